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
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root.ts";

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

  const { rates, lags } = useHistory(run.data?.kind === "stream" ? run.data.counters.read : null, status.data?.lag_seconds ?? null, status.dataUpdatedAt);

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
          <StreamStats status={s} counters={run.data?.kind === "stream" ? run.data.counters : null} />
          <div className="grid gap-3 sm:grid-cols-2">
            <Sparkline label="Throughput (changes/s), last 2 min" values={rates} format={(v) => `${Math.round(v).toLocaleString()}/s`} />
            <Sparkline label="Lag (s), last 2 min" values={lags} format={(v) => `${v.toFixed(1)} s`} />
          </div>
          {mapped.length ? <EntityControls entities={mapped} paused={s.stream.paused_entities} running={running} canEdit={canEdit} pending={entity.isPending} onAction={(e, act) => entity.mutate({ id: sourceId, entity: e, action: act })} /> : null}
          <CursorForm current={s.cursor} disabled={!canEdit || running} running={running} canEdit={canEdit} pending={setCursor.isPending} onSet={(cursor) => setCursor.mutate({ id: sourceId, cursor })} />
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

type Status = inferRouterOutputs<AppRouter>["streams"]["status"];

/** Throughput and lag over the last two minutes, sampled from the polls (kept in memory only). */
function useHistory(read: number | null, lag: number | null, polledAt: number) {
  const samples = useRef<Sample[]>([]);
  const [, redraw] = useState(0);
  useEffect(() => {
    if (read === null) return;
    const now = Date.now();
    samples.current = [...samples.current.filter((x) => now - x.t < WINDOW_MS), { t: now, read, lag }];
    redraw((n) => n + 1);
  }, [read, lag, polledAt]);
  const rates = samples.current.slice(1).map((x, i) => {
    const prev = samples.current[i]!;
    return Math.max(0, ((x.read - prev.read) * 1000) / Math.max(1, x.t - prev.t));
  });
  return { rates, lags: samples.current.map((x) => x.lag ?? 0) };
}

function StreamStats({ status: s, counters }: { status: Status; counters: { read: number; written: number; dead_lettered: number } | null }) {
  return (
    <dl className="grid grid-cols-2 gap-x-6 gap-y-1 sm:grid-cols-4">
      <Stat label="Cursor" value={s.cursor ?? "—"} mono testId="stream-cursor" />
      <Stat label="Last checkpoint" value={s.last_checkpoint_at ? new Date(s.last_checkpoint_at).toLocaleTimeString() : "—"} />
      <Stat label="Lag" value={`${bytes(s.lag_bytes)} · ${s.lag_seconds ?? "—"} s`} />
      <Stat label="Capture" value={s.stream.capture ? `${s.stream.capture.active ? "active" : "inactive"} · ${s.stream.capture.state ?? "—"}` : "not observed yet"} />
      <Stat label="Retained log" value={bytes(s.stream.capture?.retained_bytes)} />
      <Stat label="Changes read" value={counters ? counters.read.toLocaleString() : "—"} />
      <Stat label="Written" value={counters ? counters.written.toLocaleString() : "—"} />
      <Stat label="Record errors" value={counters ? counters.dead_lettered.toLocaleString() : "—"} />
    </dl>
  );
}

/** Each mapped entity's place in the stream: pause or resume its changes, or snapshot it again. */
function EntityControls(props: { entities: string[]; paused: string[]; running: boolean; canEdit: boolean; pending: boolean; onAction: (entity: string, action: "pause" | "resume" | "resnapshot") => void }) {
  const { running, canEdit } = props;
  return (
    <table className="w-full text-left" aria-label="Entities in the stream">
      <thead className="text-xs text-muted">
        <tr>
          <th className="py-1 font-medium">Entity</th>
          <th className="py-1 font-medium">State</th>
          <th className="py-1 text-right font-medium">Actions</th>
        </tr>
      </thead>
      <tbody>
        {props.entities.map((e) => {
          const paused = props.paused.includes(e);
          return (
            <tr key={e} className="border-t border-line">
              <td className="py-1.5 font-mono text-xs">{e}</td>
              <td className="py-1.5">{paused ? <Badge tone="amber">paused</Badge> : <Badge tone={running ? "green" : "neutral"}>{running ? "streaming" : "stopped"}</Badge>}</td>
              <td className="space-x-1 py-1.5 text-right">
                <Button variant="ghost" disabled={!canEdit || props.pending} title={!canEdit ? needsRole("editor") : paused ? "Apply its changes again; a snapshot recovers what was skipped" : "Skip its changes while the rest streams"} onClick={() => props.onAction(e, paused ? "resume" : "pause")}>
                  {paused ? "Resume" : "Pause"}
                </Button>
                <Button variant="ghost" disabled={!canEdit || props.pending} title={!canEdit ? needsRole("editor") : "Snapshot this table again; newer streamed changes are kept"} onClick={() => props.onAction(e, "resnapshot")}>
                  Re-snapshot
                </Button>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** Moves the stream's cursor (only while stopped: the server checks it against the capture). */
function CursorForm(props: { current: string | null; disabled: boolean; running: boolean; canEdit: boolean; pending: boolean; onSet: (cursor: string) => void }) {
  const [cursorInput, setCursorInput] = useState("");
  return (
    <form
      className="flex flex-wrap items-end gap-2"
      onSubmit={(ev) => {
        ev.preventDefault();
        props.onSet(cursorInput.trim());
      }}
    >
      <label className="flex flex-col gap-1 text-xs text-muted">
        Move cursor (only while stopped; checked against the capture)
        <input
          className="h-8 w-56 rounded-md border border-line px-2 font-mono text-[13px] text-ink"
          placeholder={props.current ?? "a cursor of this source"}
          value={cursorInput}
          onChange={(e) => setCursorInput(e.target.value)}
          disabled={props.disabled}
        />
      </label>
      <Button type="submit" variant="secondary" disabled={props.disabled || !cursorInput.trim() || props.pending} title={props.running ? "Stop the stream first" : !props.canEdit ? needsRole("editor") : undefined}>
        Set cursor
      </Button>
    </form>
  );
}
