"use client";
// Shown instead of every console page while the account still has its generated password (the
// first admin's, printed at first start): nothing else works for it until it is changed.
import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { useTRPC } from "../trpc.ts";
import { Button } from "../ui/button.tsx";
import { Card, PageHeader } from "../ui/card.tsx";
import { Field, Input } from "../ui/field.tsx";

export function ChangePasswordRequired() {
  const trpc = useTRPC();
  const router = useRouter();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [repeat, setRepeat] = useState("");
  const change = useMutation(trpc.me.changePassword.mutationOptions({ onSuccess: () => router.refresh() }));
  const issues = (change.error?.data as { issues?: { path: string; message: string }[] } | undefined)?.issues ?? [];
  const issue = (path: string) => issues.find((i) => i.path === path)?.message;
  const mismatch = repeat !== "" && repeat !== next ? "the two new passwords differ" : undefined;
  return (
    <div className="mx-auto max-w-md">
      <PageHeader title="Choose your password" description="This account still has the password generated at first start. Choose your own to continue." />
      <Card>
        <form
          className="space-y-3"
          onSubmit={(e) => {
            e.preventDefault();
            if (!mismatch) change.mutate({ current_password: current, new_password: next });
          }}
        >
          <Field id="current-password" label="Current (generated) password" error={issue("current_password")}>
            <Input id="current-password" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} invalid={!!issue("current_password")} />
          </Field>
          <Field id="new-password" label="New password" hint="At least 10 characters" error={issue("new_password")}>
            <Input id="new-password" type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} invalid={!!issue("new_password")} />
          </Field>
          <Field id="repeat-password" label="New password again" error={mismatch}>
            <Input id="repeat-password" type="password" autoComplete="new-password" value={repeat} onChange={(e) => setRepeat(e.target.value)} invalid={!!mismatch} />
          </Field>
          {change.error && !issues.length ? <p role="alert" className="text-xs text-red-700">{change.error.message}</p> : null}
          <Button type="submit" disabled={change.isPending || !current || next.length < 10 || next !== repeat}>
            {change.isPending ? "Saving…" : "Save password"}
          </Button>
        </form>
      </Card>
    </div>
  );
}
