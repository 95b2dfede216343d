"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { byPath, issuesFrom } from "../sources/issues.ts";
import { useTRPC } from "../trpc.ts";
import { Badge } from "../ui/badge.tsx";
import { Button } from "../ui/button.tsx";
import { Card, ErrorBox, PageHeader } from "../ui/card.tsx";
import { Field, Input, Select } from "../ui/field.tsx";

const ROLES = ["viewer", "editor", "admin"] as const;

export function Settings() {
  return (
    <>
      <PageHeader title="Settings" description="Users and API tokens. Admins only." />
      <div className="space-y-4">
        <Users />
        <Tokens />
      </div>
    </>
  );
}

function Users() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const users = useQuery(trpc.users.list.queryOptions());
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() });
  const create = useMutation(trpc.users.create.mutationOptions({ onSuccess: refresh }));
  const setRole = useMutation(trpc.users.setRole.mutationOptions({ onSuccess: refresh }));
  const errors = byPath(issuesFrom(create.error));

  function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const form = e.currentTarget;
    create.mutate(
      { email: String(f.get("email")), name: String(f.get("name")), password: String(f.get("password")), role: f.get("role") as (typeof ROLES)[number] },
      { onSuccess: () => form.reset() },
    );
  }

  return (
    <Card title="Users">
      {users.error ? <ErrorBox>{users.error.message}</ErrorBox> : null}
      <table className="mb-4 w-full text-left text-[13px]">
        <thead className="text-xs text-muted">
          <tr>
            <th className="py-1.5 font-medium">Email</th>
            <th className="py-1.5 font-medium">Name</th>
            <th className="py-1.5 font-medium">Role</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-line">
          {users.data?.users.map((u) => (
            <tr key={u.id}>
              <td className="py-1.5">{u.email}</td>
              <td className="py-1.5">{u.name}</td>
              <td className="py-1.5">
                <Select
                  aria-label={`Role of ${u.email}`}
                  value={u.role}
                  className="w-28"
                  onChange={(e) => setRole.mutate({ id: u.id, role: e.target.value as (typeof ROLES)[number] })}
                >
                  {ROLES.map((r) => (
                    <option key={r}>{r}</option>
                  ))}
                </Select>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {setRole.error ? <ErrorBox>{setRole.error.message}</ErrorBox> : null}
      <form onSubmit={onSubmit} className="grid grid-cols-1 items-end gap-3 border-t border-line pt-4 md:grid-cols-5">
        <Field id="user-email" label="Email" error={errors.email}>
          <Input id="user-email" name="email" type="email" required />
        </Field>
        <Field id="user-name" label="Name" error={errors.name}>
          <Input id="user-name" name="name" required />
        </Field>
        <Field id="user-password" label="Initial password" error={errors.password}>
          <Input id="user-password" name="password" type="password" minLength={10} required autoComplete="new-password" />
        </Field>
        <Field id="user-role" label="Role">
          <Select id="user-role" name="role" defaultValue="viewer">
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </Select>
        </Field>
        <Button type="submit" disabled={create.isPending}>
          Add user
        </Button>
      </form>
      {create.error && !Object.keys(errors).length ? <ErrorBox>{create.error.message}</ErrorBox> : null}
    </Card>
  );
}

function Tokens() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const tokens = useQuery(trpc.tokens.list.queryOptions());
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.tokens.list.queryKey() });
  const create = useMutation(trpc.tokens.create.mutationOptions({ onSuccess: refresh }));
  const revoke = useMutation(trpc.tokens.revoke.mutationOptions({ onSuccess: refresh }));
  const [name, setName] = useState("");
  const [role, setRole] = useState<(typeof ROLES)[number]>("viewer");

  return (
    <Card title="API tokens">
      {create.data ? (
        <div role="status" className="mb-4 rounded-md border border-emerald-200 bg-emerald-50 p-3 text-[13px]">
          <p className="font-medium text-emerald-900">Copy this token now: it is not shown again.</p>
          <code className="mt-1 block break-all font-mono text-xs" data-testid="new-token">
            {create.data.token}
          </code>
        </div>
      ) : null}
      <table className="mb-4 w-full text-left text-[13px]">
        <thead className="text-xs text-muted">
          <tr>
            <th className="py-1.5 font-medium">Name</th>
            <th className="py-1.5 font-medium">Token</th>
            <th className="py-1.5 font-medium">Role</th>
            <th className="py-1.5 font-medium">Owner</th>
            <th className="py-1.5 font-medium">Last used</th>
            <th />
          </tr>
        </thead>
        <tbody className="divide-y divide-line">
          {tokens.data?.tokens.map((t) => (
            <tr key={t.id}>
              <td className="py-1.5">{t.name}</td>
              <td className="py-1.5 font-mono text-xs">{t.prefix}…</td>
              <td className="py-1.5">{t.role}</td>
              <td className="py-1.5" data-testid="token-owner">
                {t.owner ?? <span title="Made before tokens had owners: it acts as a viewer. Create a new one and revoke this one.">none (acts as viewer: re-issue it)</span>}
              </td>
              <td className="py-1.5 text-muted">{t.last_used_at ? new Date(t.last_used_at).toLocaleString() : "never"}</td>
              <td className="py-1.5 text-right">
                {t.revoked_at ? (
                  <Badge>revoked</Badge>
                ) : (
                  <Button variant="danger" onClick={() => revoke.mutate({ id: t.id })}>
                    Revoke
                  </Button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        className="flex items-end gap-3 border-t border-line pt-4"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate({ name, role });
        }}
      >
        <div className="w-64">
          <Field id="token-name" label="Token name">
            <Input id="token-name" value={name} onChange={(e) => setName(e.target.value)} required placeholder="ci-pipeline" />
          </Field>
        </div>
        <div className="w-32">
          <Field id="token-role" label="Role">
            <Select id="token-role" value={role} onChange={(e) => setRole(e.target.value as (typeof ROLES)[number])}>
              {ROLES.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </Select>
          </Field>
        </div>
        <Button type="submit" disabled={create.isPending}>
          Create token
        </Button>
      </form>
      {create.error ? <ErrorBox>{create.error.message}</ErrorBox> : null}
    </Card>
  );
}
