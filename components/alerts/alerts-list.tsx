"use client";
// Alerts: CONFIGURATION and FATAL conditions to act on (a stream that stopped, a lost slot, a
// schema change waiting for approval), newest first, open ones by default; editors resolve them.
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { needsRole, useCan } from "../shell/me.tsx";
import { useTRPC } from "../trpc.ts";
import { Badge } from "../ui/badge.tsx";
import { Button } from "../ui/button.tsx";
import { Card, ErrorBox, PageHeader } from "../ui/card.tsx";

export function AlertsList() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const canEdit = useCan("editor");
  const [status, setStatus] = useState<"open" | "resolved" | undefined>("open");
  const alerts = useInfiniteQuery({
    ...trpc.alerts.list.infiniteQueryOptions({ status, limit: 50 }, { getNextPageParam: (last) => last.next_cursor ?? undefined }),
    refetchInterval: 5000,
  });
  const resolve = useMutation(trpc.alerts.resolve.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.alerts.list.infiniteQueryKey() }) }));
  const rows = alerts.data?.pages.flatMap((p) => p.alerts) ?? [];
  return (
    <>
      <PageHeader title="Alerts" description="Conditions that need an operator: what stopped and what to fix. Also sent to ECM_ALERT_WEBHOOK_URL when configured." />
      <div className="mb-3 flex gap-2" role="group" aria-label="Filter by status">
        {([["open", "Open"], ["resolved", "Resolved"], [undefined, "All"]] as const).map(([value, label]) => (
          <Button key={label} variant={status === value ? "primary" : "secondary"} aria-pressed={status === value} onClick={() => setStatus(value)}>
            {label}
          </Button>
        ))}
      </div>
      {resolve.error ? <ErrorBox>{resolve.error.message}</ErrorBox> : null}
      <Card>
        {alerts.isLoading ? (
          <p className="text-[13px] text-muted">Loading alerts…</p>
        ) : alerts.error ? (
          <ErrorBox>{alerts.error.message}</ErrorBox>
        ) : !rows.length ? (
          <p className="text-[13px] text-muted">{status === "open" ? "No open alerts: every stream is healthy or stopped on purpose." : "No alerts."}</p>
        ) : (
          <ul className="divide-y divide-line" aria-label="Alerts">
            {rows.map((a) => (
              <li key={a.id} className="flex items-start justify-between gap-4 py-3 text-[13px]" data-testid="alert-row">
                <div>
                  <div className="mb-1 flex items-center gap-2">
                    <Badge tone={a.category === "FATAL" ? "red" : "amber"}>{a.category}</Badge>
                    <span className="text-xs text-muted">{new Date(a.created_at).toLocaleString()}</span>
                    {a.source_id ? (
                      <Link className="text-xs text-accent underline" href={`/sources/${a.source_id}`}>
                        source
                      </Link>
                    ) : null}
                    {a.status === "resolved" ? <Badge>resolved</Badge> : null}
                  </div>
                  <p>{a.message}</p>
                  {a.hint ? <p className="text-xs text-muted">What to do: {a.hint}</p> : null}
                  {a.delivery_error ? <p className="text-xs text-red-800">Webhook delivery failed: {a.delivery_error}</p> : null}
                </div>
                {a.status === "open" ? (
                  <Button variant="secondary" disabled={!canEdit || resolve.isPending} title={!canEdit ? needsRole("editor") : undefined} onClick={() => resolve.mutate({ id: a.id })}>
                    Resolve
                  </Button>
                ) : null}
              </li>
            ))}
          </ul>
        )}
        {alerts.hasNextPage ? (
          <Button variant="secondary" className="mt-2" onClick={() => alerts.fetchNextPage()} disabled={alerts.isFetchingNextPage}>
            Show more
          </Button>
        ) : null}
      </Card>
    </>
  );
}
