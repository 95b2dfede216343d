"use client";
// The change stream of a source: state, cursor, capture and lag, live throughput and lag charts,
// start/stop, schema-change approval, per-entity pause/resume/re-snapshot and cursor reset.
// Polls once a second (react-query); charts keep the last two minutes of samples in memory.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { needsRole, useCan } from "../shell/me.tsx";
import { useTRPC } from "../trpc.ts";
import { Badge, StateBadge } from "../ui/badge.tsx";
import { Button } from "../ui/button.tsx";
import { Card, ErrorBox } from "../ui/card.tsx";
import { Sparkline } from "./sparkline.tsx";
import { bytes, until } from "../ui/format.ts";

type Sample = { t: number; read: number; lag: number | null };
const WINDOW_MS = 120_000;

export function StreamCard({ sourceId, cdc }: { sourceId: string; cdc: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const canEdit = useCan("editor");
  const status = useQuery({ ...trpc.streams.status.queryOptions({ id: sourceId }), refetchInterval: 1000 });
  const mapping = useQuery(trpc.mappings.get.queryOptions({ id: sourceId }));
  const runId = status.data?.stream.run_id ?? null;
  const run = useQuery({ ...trpc.runs.get.queryOptions({ id: runId ?? "00000000-0000-0000-0000-000000000000" }), enabled: !!runId, refetchInterval: 1000 });
  const invalidate = () => queryClient.invalidateQueries({ queryKey: trpc.streams.status.queryKey({ id: sourceId }) });
  const action = useMutation(trpc.streams.action.mutationOptions({ onSuccess: invalidate }));
  const entity = useMutation(trpc.streams.entity.mutationOptions({ onSuccess: invalidate }));
  const setCursor = useMutation(trpc.streams.setCursor.mutationOptions({ onSuccess: invalidate }));
  const [cursorInput, setCursorInput] = useState("");

  // Throughput and lag history, sampled from the polls.
  const samples = useRef<Sample[]>([]);
  const [, redraw] = useState(0);
  const read = run.data?.kind === "stream" ? run.data.counters.read : null;
  const lag = status.data?.lag_seconds ?? null;
  useEffect(() => {
    if (read === null) return;
    const now = Date.now();
    samples.current = [...samples.current.filter((s) => now - s.t < WINDOW_MS), { t: now, read, lag }];
    redraw((n) => n + 1);
  }, [read, lag, status.dataUpdatedAt]);
  const rates = samples.current.slice(1).map((s, i) => {
    const prev = samples.current[i]!;
    return Math.max(0, ((s.read - prev.read) * 1000) / Math.max(1, s.t - prev.t));
  });
  const lags = samples.current.map((s) => s.lag ?? 0);

  const s = status.data;
  if (!cdc) {
    return (
      <Card title="Change stream">
        <p className="text-[13px] text-muted">
          This source is snapshot-only (<code>options.change_tracking</code> is <code>"snapshot"</code>). Set it to <code>"cdc"</code> in the configuration to stream changes.
        </p>
      </Card>
    );
  }
  const running = !!s && s.stream.enabled && s.stream.status !== "failed" && s.stream.status !== "paused";
  const mapped = [...new Set(mapping.data?.mappings.map((m) => m.source.table) ?? [])];
  const error = action.error ?? entity.error ?? setCursor.error;

  return (
    <Card
      title="Change stream"
      actions={
        <>
          {s?.stream.pending_schema ? (
            <Button variant="secondary" disabled={!canEdit || action.isPending} title={!canEdit ? needsRole("editor") : undefined} onClick={() => action.mutate({ id: sourceId, action: "approve_schema" })}>
              Approve schema change
            </Button>
          ) : null}
          {running ? (
            <Button variant="secondary" disabled={!canEdit || action.isPending} title={!canEdit ? needsRole("editor") : undefined} onClick={() => action.mutate({ id: sourceId, action: "stop" })}>
              Stop stream
            </Button>
          ) : (
            <Button
              disabled={!canEdit || action.isPending || !mapping.data?.version}
              title={!canEdit ? needsRole("editor") : !mapping.data?.version ? "Save a mapping first" : undefined}
              onClick={() => action.mutate({ id: sourceId, action: "start" })}
            >
              Start stream
            </Button>
          )}
        </>
      }
    >
      {!s ? (
        <p className="text-[13px] text-muted">Loading stream status…</p>
      ) : (
        <div className="space-y-3 text-[13px]" data-testid="stream-status" data-state={s.state}>
          <div className="flex flex-wrap items-center gap-2">
            <StateBadge state={s.state} />
            {s.stream.retry ? (
              <span className="text-amber-800">
                retrying (attempt {s.stream.retry.attempt}, next in {until(s.stream.retry.next_at)})
              </span>
            ) : null}
            {s.stream.owner ? <span className="text-muted">owner {s.stream.owner}</span> : null}
          </div>
          {s.error ? <ErrorBox title={`${s.error.category ?? "Error"}`}>{s.error.message}</ErrorBox> : null}
          {s.stream.pending_schema ? (
            <ErrorBox title="Schema change waiting for approval">
              {s.stream.pending_schema.entity}: added {s.stream.pending_schema.added.join(", ") || "none"}; removed {s.stream.pending_schema.removed.join(", ") || "none"}. The stream resumes from its cursor once approved.
            </ErrorBox>
          ) : null}
          <dl className="grid grid-cols-2 gap-x-6 gap-y-1 sm:grid-cols-4">
            <Stat label="Cursor" value={s.cursor ?? "—"} mono testId="stream-cursor" />
            <Stat label="Last checkpoint" value={s.last_checkpoint_at ? new Date(s.last_checkpoint_at).toLocaleTimeString() : "—"} />
            <Stat label="Lag" value={`${bytes(s.lag_bytes)} · ${s.lag_seconds ?? "—"} s`} />
            <Stat label="Capture" value={s.stream.capture ? `${s.stream.capture.active ? "active" : "inactive"} · ${s.stream.capture.state ?? "—"}` : "not observed yet"} />
            <Stat label="Retained log" value={bytes(s.stream.capture?.retained_bytes)} />
            <Stat label="Changes read" value={run.data?.kind === "stream" ? run.data.counters.read.toLocaleString() : "—"} />
            <Stat label="Written" value={run.data?.kind === "stream" ? run.data.counters.written.toLocaleString() : "—"} />
            <Stat label="Record errors" value={run.data?.kind === "stream" ? run.data.counters.dead_lettered.toLocaleString() : "—"} />
          </dl>
          <div className="grid gap-3 sm:grid-cols-2">
            <Sparkline label="Throughput (changes/s), last 2 min" values={rates} format={(v) => `${Math.round(v).toLocaleString()}/s`} />
            <Sparkline label="Lag (s), last 2 min" values={lags} format={(v) => `${v.toFixed(1)} s`} />
          </div>
          {mapped.length ? (
            <table className="w-full text-left" aria-label="Entities in the stream">
              <thead className="text-xs text-muted">
                <tr>
                  <th className="py-1 font-medium">Entity</th>
                  <th className="py-1 font-medium">State</th>
                  <th className="py-1 text-right font-medium">Actions</th>
                </tr>
              </thead>
              <tbody>
                {mapped.map((e) => {
                  const paused = s.stream.paused_entities.includes(e);
                  return (
                    <tr key={e} className="border-t border-line">
                      <td className="py-1.5 font-mono text-xs">{e}</td>
                      <td className="py-1.5">{paused ? <Badge tone="amber">paused</Badge> : <Badge tone={running ? "green" : "neutral"}>{running ? "streaming" : "stopped"}</Badge>}</td>
                      <td className="space-x-1 py-1.5 text-right">
                        <Button variant="ghost" disabled={!canEdit || entity.isPending} title={!canEdit ? needsRole("editor") : paused ? "Apply its changes again; a snapshot recovers what was skipped" : "Skip its changes while the rest streams"} onClick={() => entity.mutate({ id: sourceId, entity: e, action: paused ? "resume" : "pause" })}>
                          {paused ? "Resume" : "Pause"}
                        </Button>
                        <Button variant="ghost" disabled={!canEdit || entity.isPending} title={!canEdit ? needsRole("editor") : "Snapshot this table again; newer streamed changes are kept"} onClick={() => entity.mutate({ id: sourceId, entity: e, action: "resnapshot" })}>
                          Re-snapshot
                        </Button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          ) : null}
          <form
            className="flex flex-wrap items-end gap-2"
            onSubmit={(ev) => {
              ev.preventDefault();
              setCursor.mutate({ id: sourceId, cursor: cursorInput.trim() });
            }}
          >
            <label className="flex flex-col gap-1 text-xs text-muted">
              Move cursor (only while stopped; checked against the capture)
              <input
                className="h-8 w-56 rounded-md border border-line px-2 font-mono text-[13px] text-ink"
                placeholder={s.cursor ?? "a cursor of this source"}
                value={cursorInput}
                onChange={(e) => setCursorInput(e.target.value)}
                disabled={!canEdit || running}
              />
            </label>
            <Button type="submit" variant="secondary" disabled={!canEdit || running || !cursorInput.trim() || setCursor.isPending} title={running ? "Stop the stream first" : !canEdit ? needsRole("editor") : undefined}>
              Set cursor
            </Button>
          </form>
          {error ? <ErrorBox>{error.message}</ErrorBox> : null}
        </div>
      )}
    </Card>
  );
}

function Stat({ label, value, mono, testId }: { label: string; value: string; mono?: boolean; testId?: string }) {
  return (
    <div>
      <dt className="text-xs text-muted">{label}</dt>
      <dd className={mono ? "font-mono text-xs" : "tabular-nums"} data-testid={testId}>
        {value}
      </dd>
    </div>
  );
}
