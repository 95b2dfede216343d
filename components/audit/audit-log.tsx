"use client";
// The audit trail (admins): who changed what, when, from where, newest first. Filters by who,
// source, kind of change and time; each entry links to what it touched (a mapping entry opens the
// diff of its version against the one before).
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { AUDIT_ACTIONS } from "@/server/audit/actions.ts";
import type { TAuditEntry } from "@/server/audit/service.ts";
import { useTRPC } from "../trpc.ts";
import { Badge } from "../ui/badge.tsx";
import { Button } from "../ui/button.tsx";
import { Card, ErrorBox, PageHeader } from "../ui/card.tsx";
import { Input, Select } from "../ui/field.tsx";

type Filters = { actor: string; source_id: string; action: string; since: string };

export function AuditLog() {
  const trpc = useTRPC();
  const [filters, setFilters] = useState<Filters>({ actor: "", source_id: "", action: "", since: "" });
  const input = {
    limit: 50,
    ...(filters.actor.trim() ? { actor: filters.actor.trim() } : {}),
    ...(filters.source_id ? { source_id: filters.source_id } : {}),
    ...(filters.action ? { action: filters.action as (typeof AUDIT_ACTIONS)[number] } : {}),
    ...(filters.since ? { since: new Date(filters.since).toISOString() } : {}),
  };
  const entries = useInfiniteQuery({
    ...trpc.audit.list.infiniteQueryOptions(input, { getNextPageParam: (last) => last.next_cursor ?? undefined }),
    refetchInterval: 10_000,
  });
  const rows = entries.data?.pages.flatMap((p) => p.entries) ?? [];
  return (
    <>
      <PageHeader title="Audit" description="Every change made through the console, the API or ecm: who, when, from where and what. Entries cannot be changed; they are kept for ECM_AUDIT_RETENTION_DAYS (400 days by default)." />
      <AuditFilters filters={filters} onChange={setFilters} />
      <Card>
        {entries.isLoading ? (
          <p className="text-[13px] text-muted">Loading the audit trail…</p>
        ) : entries.error ? (
          <ErrorBox title="Could not read the audit trail">{entries.error.message}</ErrorBox>
        ) : !rows.length ? (
          <p className="text-[13px] text-muted">No change matches these filters.</p>
        ) : (
          <ul className="divide-y divide-line" aria-label="Audit entries">
            {rows.map((e) => (
              <AuditRow key={e.id} entry={e} />
            ))}
          </ul>
        )}
        {entries.hasNextPage ? (
          <Button variant="secondary" className="mt-2" onClick={() => entries.fetchNextPage()} disabled={entries.isFetchingNextPage}>
            Show older
          </Button>
        ) : null}
      </Card>
    </>
  );
}

function AuditFilters({ filters, onChange }: { filters: Filters; onChange: (f: Filters) => void }) {
  const trpc = useTRPC();
  const sources = useQuery(trpc.sources.list.queryOptions({ limit: 500 }));
  const set = (patch: Partial<Filters>) => onChange({ ...filters, ...patch });
  return (
    <div className="mb-3 grid gap-2 sm:grid-cols-2 lg:grid-cols-4" role="group" aria-label="Filter the audit trail">
      <Input aria-label="Who" placeholder="Who: a user's email or a token's name" value={filters.actor} maxLength={200} onChange={(e) => set({ actor: e.target.value })} />
      <Select aria-label="Source" value={filters.source_id} onChange={(e) => set({ source_id: e.target.value })}>
        <option value="">Every source</option>
        {sources.data?.sources.map((s) => (
          <option key={s.id} value={s.id}>
            {s.name}
          </option>
        ))}
      </Select>
      <Select aria-label="Kind of change" value={filters.action} onChange={(e) => set({ action: e.target.value })}>
        <option value="">Every kind of change</option>
        {AUDIT_ACTIONS.map((a) => (
          <option key={a} value={a}>
            {a}
          </option>
        ))}
      </Select>
      <Input aria-label="Since" type="datetime-local" value={filters.since} onChange={(e) => set({ since: e.target.value })} />
    </div>
  );
}

function AuditRow({ entry: e }: { entry: TAuditEntry }) {
  const who = e.actor.owner && e.actor.owner.name !== e.actor.name ? `${e.actor.name} (a token of ${e.actor.owner.name})` : e.actor.name;
  return (
    <li className="py-2.5 text-[13px]" data-testid="audit-entry">
      <div className="flex flex-wrap items-center gap-x-2 gap-y-1">
        <Badge tone={e.action.endsWith("delete") || e.action.endsWith("revoke") || e.action.endsWith("discard") ? "red" : "neutral"}>{e.action}</Badge>
        <span className="font-medium">{who}</span>
        <span className="text-xs text-muted">
          {new Date(e.at).toLocaleString()}
          {e.client_address ? ` · from ${e.client_address}` : ""}
        </span>
        <TargetLink entry={e} />
      </div>
      <Details entry={e} />
    </li>
  );
}

/** Where what the change touched is shown in the console. */
function TargetLink({ entry: e }: { entry: TAuditEntry }) {
  const link = (href: string, label: string) => (
    <Link className="text-xs text-accent underline" href={href}>
      {label}
    </Link>
  );
  const source = e.source_id;
  switch (e.target.kind) {
    case "mapping_version": {
      const previous = (e.details as { previous_version?: number | null }).previous_version;
      return source ? link(`/sources/${source}/mapping${previous ? `?from=${previous}&to=${e.target.id}` : ""}#versions`, previous ? `version ${previous} → ${e.target.id}` : `version ${e.target.id}`) : null;
    }
    case "entity":
      return source && e.target.id ? link(`/sources/${source}/entities/${encodeURIComponent(e.target.id)}`, e.target.id) : null;
    case "dead_letter":
      return link("/dead-letters", "dead letters");
    case "alert":
      return link("/alerts", "alerts");
    case "user":
    case "token":
      return link("/settings", `${e.target.kind} ${(e.details as { name?: string; email?: string }).email ?? (e.details as { name?: string }).name ?? ""}`.trim());
    default:
      // A source, its stream, a run, a schedule: the source's page (a deleted source has none).
      return source && e.action !== "source.delete" ? link(`/sources/${source}`, e.target.kind === "run" ? "source (runs)" : "source") : null;
  }
}

/** What changed: a list of changed paths where the entry has one, else its details. */
function Details({ entry: e }: { entry: TAuditEntry }) {
  const { changes, ...rest } = e.details as { changes?: { path: string; before: unknown; after: unknown }[] } & Record<string, unknown>;
  const shown = (v: unknown) => (v === null || v === undefined ? "—" : typeof v === "string" ? v : JSON.stringify(v));
  const restText = Object.keys(rest).length ? JSON.stringify(rest) : "";
  return (
    <div className="mt-1 space-y-0.5 text-xs text-muted">
      {restText ? <p className="break-all font-mono">{restText.length > 300 ? `${restText.slice(0, 300)}…` : restText}</p> : null}
      {changes?.length ? (
        <ul className="space-y-0.5" aria-label="Changes">
          {changes.slice(0, 20).map((c) => (
            <li key={c.path} className="break-all font-mono">
              <span className="text-ink">{c.path}</span>: {shown(c.before).slice(0, 120)} → {shown(c.after).slice(0, 120)}
            </li>
          ))}
          {changes.length > 20 ? <li>and {changes.length - 20} more</li> : null}
        </ul>
      ) : null}
    </div>
  );
}
