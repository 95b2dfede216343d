"use client";
// The dead-letter workbench: filter (kept in the URL), inspect payload and error, replay one, a
// selection or everything matching, discard; outcomes shown as replays finish.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useCallback, useEffect, useState } from "react";
import { needsRole, useCan } from "../shell/me.tsx";
import { useTRPC } from "../trpc.ts";
import { Button } from "../ui/button.tsx";
import { ErrorBox, PageHeader } from "../ui/card.tsx";
import { runActive } from "../runs/status.ts";
import { DeadLetterDetail } from "./letter-detail.tsx";
import { DeadLetterFilters } from "./filters.tsx";
import { filterFrom } from "./filter.ts";
import { DeadLetterTable } from "./letter-table.tsx";

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
      <DeadLetterFilters filter={filter} sources={sources.data?.sources ?? []} setFilter={setFilter} />
      {replay.error ? <ErrorBox title="Replay not started">{replay.error.message}</ErrorBox> : null}
      {run.data ? <ReplayOutcome run={run.data} /> : null}
      <div className="grid gap-4 lg:grid-cols-5">
        <DeadLetterTable
          list={list}
          emptyText={`Nothing here${filter.status === "open" ? ": every record was delivered." : "."}`}
          selected={selected}
          setSelected={setSelected}
          open={open}
          setOpen={setOpen}
          sourceName={sourceName}
          hasPrevious={cursors.length > 0}
          onPrevious={() => setCursors(cursors.slice(0, -1))}
          onNext={() => list.data?.next_cursor && setCursors([...cursors, list.data.next_cursor])}
        />
        <DeadLetterDetail open={!!open} letter={detail.data} canEdit={canEdit} onReplay={(id) => replay.mutate({ ids: [id] })} onDiscard={(id) => discard.mutate({ id })} />
      </div>
    </>
  );
}

/** How a replay ended (or stands): written, already up to date, failed again. */
function ReplayOutcome({ run }: { run: { status: string; counters: { read: number; written: number; dead_lettered: number } } }) {
  const c = run.counters;
  return (
    <div role="status" className="mb-4 rounded-md border border-line bg-surface px-3 py-2 text-[13px]" data-testid="replay-run" data-status={run.status}>
      Replay {run.status}: {c.written} written, {c.read - c.written - c.dead_lettered} already up to date (a newer change is in the store, or the row is gone), {c.dead_lettered} failed again of {c.read}.
    </div>
  );
}
