"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { needsRole, useCan } from "../shell/me.tsx";
import { useTRPC } from "../trpc.ts";
import { Badge } from "../ui/badge.tsx";
import { Button } from "../ui/button.tsx";
import { Card, ErrorBox } from "../ui/card.tsx";
import { until } from "../ui/format.ts";
import { runActive, runRetrying } from "./status.ts";

const TONE = { queued: "neutral", running: "blue", succeeded: "green", failed: "red", cancelled: "neutral" } as const;

/** `incremental`: the source syncs by incremental runs (a run reads what moved; a full pass reads every row). */
export function SnapshotCard({ sourceId, incremental = false }: { sourceId: string; incremental?: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const canEdit = useCan("editor");
  const mapping = useQuery(trpc.mappings.get.queryOptions({ id: sourceId }));
  const runs = useQuery({
    ...trpc.runs.list.queryOptions({ source_id: sourceId, limit: 20 }),
    refetchInterval: (q) => (q.state.data?.runs.some((r) => r.kind === "snapshot" && runActive(r.status)) ? 1000 : 5000),
  });
  const start = useMutation(
    trpc.runs.snapshot.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.runs.list.queryKey() }) }),
  );
  const latest = runs.data?.runs.find((r) => r.kind === "snapshot");
  const pct = latest?.progress.total ? Math.min(100, Math.round((latest.progress.done / latest.progress.total) * 100)) : latest?.status === "succeeded" ? 100 : 0;
  const elapsed = latest?.started_at ? ((latest.finished_at ? Date.parse(latest.finished_at) : Date.now()) - Date.parse(latest.started_at)) / 1000 : 0;
  const rate = elapsed > 0 && latest ? Math.round(latest.progress.done / elapsed) : 0;
  const eta = latest?.status === "running" && rate > 0 && latest.progress.total ? Math.max(0, Math.round((latest.progress.total - latest.progress.done) / rate)) : null;

  const runButton = (label: string, full: boolean, variant: "primary" | "secondary", hint?: string) => (
    <Button
      variant={variant}
      disabled={!canEdit || !mapping.data?.version || start.isPending}
      title={!canEdit ? needsRole("editor") : !mapping.data?.version ? "Save a mapping first" : hint}
      onClick={() => start.mutate({ id: sourceId, ...(full ? { full: true } : {}) })}
    >
      {label}
    </Button>
  );

  return (
    <Card
      title={incremental ? "Mapping and runs" : "Mapping and snapshot"}
      actions={
        <>
          <Link href={`/sources/${sourceId}/mapping`} className="inline-flex h-8 items-center rounded-md border border-line bg-white px-3 text-[13px] font-medium hover:bg-zinc-50">
            {mapping.data?.version ? "Edit mapping" : "Create mapping"}
          </Link>
          {incremental ? (
            <>
              {runButton("Full pass", true, "secondary", "Read every row and tombstone contexts whose rows are gone")}
              {runButton("Run now", false, "primary", "Read the rows whose cursor moved since the last run")}
            </>
          ) : (
            runButton("Run snapshot", false, "primary")
          )}
        </>
      }
    >
      <p className="mb-3 text-[13px] text-muted">
        {mapping.data?.version ? `Mapping version ${mapping.data.version}: ${mapping.data.mappings.map((m) => `${m.source.table} → ${m.target.context_type}`).join(", ")}` : "No mapping yet: map tables to context types first."}
      </p>
      {start.error ? <ErrorBox>{start.error.message}</ErrorBox> : null}
      {latest ? (
        <div data-testid="latest-run" data-status={latest.status}>
          <div className="mb-1 flex items-center justify-between text-[13px]">
            <span className="flex items-center gap-2">
              <Badge tone={TONE[latest.status]}>{latest.status}</Badge> snapshot
            </span>
            <span className="tabular-nums text-muted">
              {latest.progress.done.toLocaleString()}
              {latest.progress.total ? ` / ${latest.progress.total.toLocaleString()}` : ""} rows{rate ? ` · ${rate.toLocaleString()} rows/s` : ""}
              {eta !== null ? ` · ETA ${eta >= 60 ? `${Math.floor(eta / 60)} min ${eta % 60} s` : `${eta} s`}` : ""}
            </span>
          </div>
          <div className="h-2 w-full overflow-hidden rounded bg-zinc-100" role="progressbar" aria-valuenow={pct} aria-valuemin={0} aria-valuemax={100} aria-label="Snapshot progress">
            <div className={`h-full ${latest.status === "failed" ? "bg-red-500" : "bg-accent"}`} style={{ width: `${pct}%` }} />
          </div>
          <p className="mt-2 text-xs text-muted" data-testid="run-counters">
            read {latest.counters.read.toLocaleString()} · written {latest.counters.written.toLocaleString()} · record errors {latest.counters.dead_lettered.toLocaleString()} · collisions{" "}
            {latest.counters.collisions.toLocaleString()}
          </p>
          {latest.error && runRetrying(latest) ? (
            <p className="mt-2 text-xs text-amber-800" data-testid="run-retry">
              retrying (attempt {latest.retry.attempt}, next in {until(latest.retry.next_at)}): {latest.error.message}
            </p>
          ) : latest.error && !runActive(latest.status) ? (
            <ErrorBox title={`${latest.error.category ?? "Error"}: the run failed`}>{latest.error.message}</ErrorBox>
          ) : null}
        </div>
      ) : null}
    </Card>
  );
}
