"use client";
// The dead-letter workbench: filter (kept in the URL), inspect payload and error, replay one, a
// selection or everything matching, discard; outcomes shown as replays finish.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useCallback, useEffect, useState } from "react";
import { needsRole, useCan } from "../shell/me.tsx";
import { useTRPC } from "../trpc.ts";
import { Badge } from "../ui/badge.tsx";
import { Button } from "../ui/button.tsx";
import { Card, ErrorBox, PageHeader, Skeleton } from "../ui/card.tsx";
import { Field, Input, Select } from "../ui/field.tsx";
import { runActive } from "../runs/status.ts";

/** An ISO instant as the value of a datetime-local input (the browser's local time, to the minute). */
function toLocalInput(iso: string) {
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

const STATUS_TONE = { open: "red", replayed: "green", discarded: "neutral" } as const;
const CATEGORIES = ["DATA", "CONFIGURATION", "TRANSIENT", "FATAL"] as const;
const STATUSES = ["open", "replayed", "discarded"] as const;

/** The filter kept in the URL. A hand-edited URL may hold anything: unknown values are dropped. */
function filterFrom(params: URLSearchParams) {
  const get = (k: string) => params.get(k) || undefined;
  const status = STATUSES.find((s) => s === get("status")) ?? "open";
  const category = CATEGORIES.find((c) => c === get("category"));
  const since = get("since");
  return {
    status,
    ...(get("source_id") ? { source_id: get("source_id")! } : {}),
    ...(get("entity") ? { entity: get("entity")! } : {}),
    ...(category ? { category } : {}),
    ...(since && !Number.isNaN(Date.parse(since)) ? { since: new Date(since).toISOString() } : {}),
  };
}

export function DeadLetterWorkbench() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();
  const canEdit = useCan("editor");
  const filter = filterFrom(params);
  const setFilter = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    router.replace(`${pathname}?${next}`);
    setSelected(new Set());
    setCursors([]);
  };
  const sources = useQuery(trpc.sources.list.queryOptions({ limit: 500 }));
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const list = useQuery({ ...trpc.deadLetters.list.queryOptions({ ...filter, limit: 50, ...(cursor ? { cursor } : {}) }), refetchInterval: 3000 });
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [open, setOpen] = useState<string | null>(null);
  const detail = useQuery({ ...trpc.deadLetters.get.queryOptions({ id: open ?? "00000000-0000-0000-0000-000000000000" }), enabled: !!open });
  const [runId, setRunId] = useState<string | null>(null);
  const run = useQuery({
    ...trpc.runs.get.queryOptions({ id: runId ?? "00000000-0000-0000-0000-000000000000" }),
    enabled: !!runId,
    refetchInterval: (q) => (q.state.data && !runActive(q.state.data.status) ? false : 1000),
  });
  // The list, the open detail and the open count all change when a replay or discard lands.
  const refresh = useCallback(() => queryClient.invalidateQueries({ queryKey: trpc.deadLetters.pathKey() }), [queryClient, trpc]);
  const runStatus = run.data?.status;
  useEffect(() => {
    if (runStatus && !runActive(runStatus)) void refresh();
  }, [runStatus, refresh]);
  const replay = useMutation(trpc.deadLetters.replay.mutationOptions({ onSuccess: (r) => (setRunId(r.run_id), setSelected(new Set()), refresh()) }));
  const discard = useMutation(trpc.deadLetters.discard.mutationOptions({ onSuccess: refresh }));
  const rows = list.data?.dead_letters ?? [];
  const sourceName = (id: string) => sources.data?.sources.find((s) => s.id === id)?.name ?? id.slice(0, 8);

  function replayAllMatching() {
    if (!filter.source_id) return;
    const scope = [filter.entity, filter.category, filter.since ? `since ${new Date(filter.since).toLocaleString()}` : null].filter(Boolean).join(", ");
    if (window.confirm(`Replay every open dead letter of ${sourceName(filter.source_id)}${scope ? ` (${scope})` : ""} through the mapping in force now?`)) {
      const { status: _status, ...rest } = filter;
      replay.mutate({ filter: { ...rest, source_id: filter.source_id, status: "open" } });
    }
  }

  return (
    <>
      <PageHeader
        title="Dead letters"
        description="Records that could not be delivered. Fix the mapping or the source row, then replay."
        actions={
          <>
            <Button variant="secondary" disabled={!canEdit || !selected.size || replay.isPending} title={canEdit ? undefined : needsRole("editor")} onClick={() => replay.mutate({ ids: [...selected] })}>
              Replay selected ({selected.size})
            </Button>
            <Button
              disabled={!canEdit || !filter.source_id || replay.isPending}
              title={!canEdit ? needsRole("editor") : !filter.source_id ? "Choose a source first" : undefined}
              onClick={replayAllMatching}
            >
              Replay all matching
            </Button>
          </>
        }
      />
      <div className="mb-4 grid grid-cols-2 gap-3 md:grid-cols-5">
        <Field id="dl-source" label="Source">
          <Select id="dl-source" value={filter.source_id ?? ""} onChange={(e) => setFilter("source_id", e.target.value)}>
            <option value="">All sources</option>
            {sources.data?.sources.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </Select>
        </Field>
        <Field id="dl-status" label="Status">
          <Select id="dl-status" value={filter.status} onChange={(e) => setFilter("status", e.target.value)}>
            {STATUSES.map((st) => (
              <option key={st}>{st}</option>
            ))}
          </Select>
        </Field>
        <Field id="dl-entity" label="Entity">
          <Input
            id="dl-entity"
            key={filter.entity ?? ""} // follows the URL when it changes (e.g. the sidebar link clears it)
            placeholder="any table"
            defaultValue={filter.entity ?? ""}
            onKeyDown={(e) => e.key === "Enter" && setFilter("entity", e.currentTarget.value.trim())}
            onBlur={(e) => e.target.value.trim() !== (filter.entity ?? "") && setFilter("entity", e.target.value.trim())}
          />
        </Field>
        <Field id="dl-category" label="Category">
          <Select id="dl-category" value={filter.category ?? ""} onChange={(e) => setFilter("category", e.target.value)}>
            <option value="">any</option>
            {CATEGORIES.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </Select>
        </Field>
        <Field id="dl-since" label="Since">
          <Input
            id="dl-since"
            type="datetime-local"
            value={filter.since ? toLocalInput(filter.since) : ""}
            onChange={(e) => setFilter("since", e.target.value ? new Date(e.target.value).toISOString() : "")}
          />
        </Field>
      </div>
      {replay.error ? <ErrorBox title="Replay not started">{replay.error.message}</ErrorBox> : null}
      {run.data ? (
        <div role="status" className="mb-4 rounded-md border border-line bg-surface px-3 py-2 text-[13px]" data-testid="replay-run" data-status={run.data.status}>
          Replay {run.data.status}: {run.data.counters.written} written, {run.data.counters.read - run.data.counters.written - run.data.counters.dead_lettered} already up to date (a newer change is in the store, or the row is gone), {run.data.counters.dead_lettered} failed again of {run.data.counters.read}.
        </div>
      ) : null}
      <div className="grid gap-4 lg:grid-cols-5">
        <Card className="lg:col-span-3">
          {list.isLoading ? <Skeleton className="h-64 w-full" /> : null}
          {list.error ? <ErrorBox>{list.error.message}</ErrorBox> : null}
          {list.data && !rows.length ? <p className="text-[13px] text-muted">Nothing here{filter.status === "open" ? ": every record was delivered." : "."}</p> : null}
          {rows.length ? (
            <table className="w-full text-left text-[13px]" data-testid="dead-letters">
              <thead className="text-xs text-muted">
                <tr>
                  <th className="w-6 py-1.5">
                    <input
                      type="checkbox"
                      aria-label="Select all on this page"
                      checked={rows.every((r) => selected.has(r.id))}
                      onChange={(e) => setSelected(e.target.checked ? new Set(rows.map((r) => r.id)) : new Set())}
                    />
                  </th>
                  <th className="py-1.5 font-medium">Source / entity</th>
                  <th className="py-1.5 font-medium">Key</th>
                  <th className="py-1.5 font-medium">Error</th>
                  <th className="py-1.5 font-medium">Status</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-line">
                {rows.map((d) => (
                  <tr key={d.id} className={open === d.id ? "bg-zinc-50" : "hover:bg-zinc-50"} data-testid="dead-letter-row">
                    <td className="py-1.5">
                      <input
                        type="checkbox"
                        aria-label={`Select ${d.entity} ${d.key.join(",")}`}
                        checked={selected.has(d.id)}
                        onChange={(e) => {
                          const next = new Set(selected);
                          if (e.target.checked) next.add(d.id);
                          else next.delete(d.id);
                          setSelected(next);
                        }}
                      />
                    </td>
                    <td className="py-1.5 text-xs">
                      {sourceName(d.source_id)} / <span className="font-mono">{d.entity}</span>
                    </td>
                    <td className="py-1.5 font-mono text-xs">
                      <button type="button" className="hover:text-accent" onClick={() => setOpen(d.id)}>
                        {d.key.join(", ")}
                      </button>
                    </td>
                    <td className="max-w-xs truncate py-1.5 text-xs" title={d.error.message}>
                      <Badge tone="amber">{d.category}</Badge> <code className="font-mono">{d.error.field}</code>
                    </td>
                    <td className="py-1.5">
                      <Badge tone={STATUS_TONE[d.status]}>{d.status}</Badge>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          <div className="mt-3 flex justify-end gap-2">
            <Button variant="secondary" disabled={!cursors.length} onClick={() => setCursors(cursors.slice(0, -1))}>
              Previous
            </Button>
            <Button variant="secondary" disabled={!list.data?.next_cursor} onClick={() => setCursors([...cursors, list.data!.next_cursor!])}>
              Next
            </Button>
          </div>
        </Card>
        <Card title="Detail" className="lg:col-span-2">
          {!open ? <p className="text-[13px] text-muted">Select a key to see the record, the error and where it failed in the mapping.</p> : null}
          {detail.data ? (
            <div className="space-y-3 text-[13px]" data-testid="dead-letter-detail">
              <div>
                <p className="font-medium">Error</p>
                <p className="text-red-800">{detail.data.error.message}</p>
                <p className="mt-1 text-xs text-muted">
                  field <code className="font-mono">{detail.data.error.field ?? "—"}</code> · transform <code className="font-mono">{detail.data.error.transform ?? "—"}</code> · mapping v
                  {detail.data.mapping_version} · attempts {detail.data.attempts}
                </p>
                <Link
                  href={`/sources/${detail.data.source_id}/mapping?${new URLSearchParams({ entity: detail.data.entity, ...(detail.data.error.field ? { field: detail.data.error.field } : {}) })}`} className="text-xs text-accent hover:underline">
                  Open the mapping at {detail.data.error.field ?? "this entity"}
                </Link>
              </div>
              <div>
                <p className="font-medium">Record</p>
                <pre className="max-h-72 overflow-auto rounded bg-zinc-50 p-2 font-mono text-[11px]">{JSON.stringify(detail.data.payload, null, 2)}</pre>
              </div>
              {detail.data.outcome ? <p className="text-xs text-muted">Outcome: {detail.data.outcome}</p> : null}
              <div className="flex gap-2">
                <Button variant="secondary" disabled={!canEdit || detail.data.status !== "open"} onClick={() => replay.mutate({ ids: [detail.data!.id] })}>
                  Replay
                </Button>
                <Button variant="danger" disabled={!canEdit || detail.data.status !== "open"} onClick={() => discard.mutate({ id: detail.data!.id })}>
                  Discard
                </Button>
              </div>
            </div>
          ) : null}
        </Card>
      </div>
    </>
  );
}
