"use client";
// Every run of a source (snapshots, streams, replays), newest first, with counters and errors;
// paged with "Show more" (the API's cursor).
import { useInfiniteQuery } from "@tanstack/react-query";
import { useTRPC } from "../trpc.ts";
import { Badge } from "../ui/badge.tsx";
import { Button } from "../ui/button.tsx";
import { Card } from "../ui/card.tsx";
import { until } from "../ui/format.ts";
import { runRetrying } from "./status.ts";

const TONE = { queued: "neutral", running: "blue", succeeded: "green", failed: "red", cancelled: "neutral" } as const;

function duration(start: string | null, end: string | null) {
  if (!start) return "—";
  const s = Math.round(((end ? Date.parse(end) : Date.now()) - Date.parse(start)) / 1000);
  return s >= 3600 ? `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min` : s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

export function RunsHistory({ sourceId }: { sourceId: string }) {
  const trpc = useTRPC();
  const runs = useInfiniteQuery({
    ...trpc.runs.list.infiniteQueryOptions({ source_id: sourceId, limit: 10 }, { getNextPageParam: (last) => last.next_cursor ?? undefined }),
    refetchInterval: 3000,
  });
  const rows = runs.data?.pages.flatMap((p) => p.runs) ?? [];
  return (
    <Card title="Run history">
      {runs.isLoading ? (
        <p className="text-[13px] text-muted">Loading runs…</p>
      ) : !rows.length ? (
        <p className="text-[13px] text-muted">No runs yet: run a snapshot or start the stream.</p>
      ) : (
        <table className="w-full text-left text-[13px]" aria-label="Runs">
          <thead className="text-xs text-muted">
            <tr>
              <th className="py-1 font-medium">Started</th>
              <th className="py-1 font-medium">Kind</th>
              <th className="py-1 font-medium">Status</th>
              <th className="py-1 text-right font-medium">Read</th>
              <th className="py-1 text-right font-medium">Written</th>
              <th className="py-1 text-right font-medium">Record errors</th>
              <th className="py-1 text-right font-medium">Retries</th>
              <th className="py-1 text-right font-medium">Duration</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id} className="border-t border-line align-top" data-testid="run-row" data-kind={r.kind} data-status={r.status}>
                <td className="py-1.5 tabular-nums">{new Date(r.created_at).toLocaleString()}</td>
                <td className="py-1.5">{r.kind}</td>
                <td className="py-1.5">
                  <Badge tone={TONE[r.status]}>{r.status}</Badge>
                  {r.error && runRetrying(r) ? (
                    <div className="mt-1 max-w-md text-xs text-amber-800">{`retrying (attempt ${r.retry.attempt}, next in ${until(r.retry.next_at)}): ${r.error.message}`}</div>
                  ) : r.error ? (
                    <div className="mt-1 max-w-md text-xs text-red-800">{`${r.error.category ?? "Error"}: ${r.error.message}`}</div>
                  ) : null}
                </td>
                <td className="py-1.5 text-right tabular-nums">{r.counters.read.toLocaleString()}</td>
                <td className="py-1.5 text-right tabular-nums">{r.counters.written.toLocaleString()}</td>
                <td className="py-1.5 text-right tabular-nums">{r.counters.dead_lettered.toLocaleString()}</td>
                <td className="py-1.5 text-right tabular-nums">{r.counters.retried.toLocaleString()}</td>
                <td className="py-1.5 text-right tabular-nums">{duration(r.started_at, r.finished_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {runs.hasNextPage ? (
        <Button variant="secondary" className="mt-2" disabled={runs.isFetchingNextPage} onClick={() => runs.fetchNextPage()}>
          Show more
        </Button>
      ) : null}
    </Card>
  );
}
