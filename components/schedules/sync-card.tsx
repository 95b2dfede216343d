"use client";
// A source without a change stream: its schedule (next and last run, pause and resume) and, per
// entity, what its incremental sync reads next (docs/incremental.md). Polls every two seconds.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { needsRole, useCan } from "../shell/me.tsx";
import { useTRPC } from "../trpc.ts";
import { Badge } from "../ui/badge.tsx";
import { Button } from "../ui/button.tsx";
import { Card, ErrorBox } from "../ui/card.tsx";
import { ago, until } from "../ui/format.ts";

export function SyncCard({ sourceId, incremental }: { sourceId: string; incremental: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const canEdit = useCan("editor");
  const sync = useQuery({ ...trpc.schedules.get.queryOptions({ id: sourceId }), refetchInterval: 2000 });
  const action = useMutation(trpc.schedules.action.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.schedules.get.queryKey({ id: sourceId }) }) }));
  const schedule = sync.data?.schedule ?? null;
  const entities = sync.data?.entities ?? [];
  return (
    <Card title={incremental ? "Incremental sync" : "Snapshots"} actions={schedule ? <ScheduleToggle paused={schedule.paused} disabled={!canEdit || action.isPending} onToggle={() => action.mutate({ id: sourceId, action: schedule.paused ? "resume" : "pause" })} /> : null}>
      {sync.error ? <ErrorBox title="Could not read the schedule">{sync.error.message}</ErrorBox> : null}
      {action.error ? <ErrorBox title="The schedule did not change">{action.error.message}</ErrorBox> : null}
      <dl className="grid grid-cols-[9rem_1fr] gap-x-3 gap-y-1 text-[13px]" data-testid="schedule">
        <dt className="text-muted">Schedule</dt>
        <dd>{schedule ? (schedule.cron ? <code>{`${schedule.cron} (${schedule.timezone})`}</code> : `every ${schedule.every_seconds} s`) : <span className="text-muted">none: runs start when asked (set options.schedule)</span>}</dd>
        {schedule ? (
          <>
            <dt className="text-muted">Next run</dt>
            <dd data-testid="schedule-next">{schedule.paused ? <Badge>paused</Badge> : schedule.next_run_at ? `in ${until(schedule.next_run_at)}` : "—"}</dd>
            <dt className="text-muted">Last run</dt>
            <dd data-testid="schedule-last">
              {schedule.last_run ? (
                <>
                  <span className="font-medium">{schedule.last_run.status}</span>{" "}
                  <span className="text-muted">{ago(schedule.last_run.created_at)}</span>
                </>
              ) : (
                "none yet"
              )}
            </dd>
          </>
        ) : null}
      </dl>
      {incremental ? (
        entities.length ? (
          <table className="mt-3 w-full text-left text-xs" aria-label="Incremental sync per entity">
            <thead className="text-muted">
              <tr>
                <th className="py-1 font-medium">Entity</th>
                <th className="font-medium">Cursor</th>
                <th className="font-medium">Next run reads after</th>
                <th className="font-medium">Last pass</th>
              </tr>
            </thead>
            <tbody>
              {entities.map((e) => (
                <tr key={e.entity} className="border-t border-line">
                  <td className="py-1 font-mono">{e.entity}</td>
                  <td className="font-mono">{e.cursor?.join(", ") ?? "—"}</td>
                  <td className="font-mono">{e.next_from ?? "the first row (a full pass)"}</td>
                  <td>{e.pass ? `${PASS_SHOWN[e.pass.mode]}${e.pass.done ? "" : " (running)"}` : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="mt-3 text-[13px] text-muted">No run yet: the first one reads every row, the next ones what moved (a cursor column per entity in the mapping).</p>
        )
      ) : null}
    </Card>
  );
}

/** What each pass mode did, in the table (a reconcile follows the run's incremental pass). */
const PASS_SHOWN = { full: "full", incremental: "incremental", reconcile: "incremental, deletes checked" } as const;

function ScheduleToggle({ paused, disabled, onToggle }: { paused: boolean; disabled: boolean; onToggle: () => void }) {
  return (
    <Button variant="secondary" disabled={disabled} onClick={onToggle} title={disabled ? needsRole("editor") : undefined}>
      {paused ? "Resume schedule" : "Pause schedule"}
    </Button>
  );
}
