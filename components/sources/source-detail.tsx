"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { needsRole, useCan } from "../shell/me.tsx";
import { useTRPC } from "../trpc.ts";
import { Breadcrumbs } from "../ui/breadcrumbs.tsx";
import { StateBadge } from "../ui/badge.tsx";
import { Button } from "../ui/button.tsx";
import { Card, ErrorBox, PageHeader, Skeleton } from "../ui/card.tsx";
import { Field, Input } from "../ui/field.tsx";
import { downloadJson } from "../ui/download.ts";
import { EntitiesPanel } from "./entities-panel.tsx";
import { SnapshotCard } from "../runs/snapshot-card.tsx";
import { RunsHistory } from "../runs/runs-history.tsx";
import { StreamCard } from "../streams/stream-card.tsx";
import { SyncCard } from "../schedules/sync-card.tsx";
import { HealthChecks } from "./health-panel.tsx";

export function SourceDetail({ id }: { id: string }) {
  const trpc = useTRPC();
  const { data: source, error, isLoading } = useQuery({ ...trpc.sources.get.queryOptions({ id }), refetchInterval: 2000 });
  // The state users see, derived in one place (server/streams/service.ts) as the list and the
  // status API show it: the stream's own state while it runs, not the source row's last word.
  const status = useQuery({ ...trpc.streams.status.queryOptions({ id }), refetchInterval: 1000 });

  if (isLoading) return <Skeleton className="h-64 w-full" />;
  if (error || !source) {
    return (
      <ErrorBox title="Source not available">
        {error?.data?.code === "NOT_FOUND" ? "This source does not exist (it may have been deleted)." : error?.message}{" "}
        <Link href="/sources" className="underline">
          Back to sources
        </Link>
      </ErrorBox>
    );
  }
  const c = source.config;
  return (
    <>
      <Breadcrumbs items={[{ label: "Sources", href: "/sources" }, { label: source.name }]} />
      <PageHeader
        title={
          <span className="flex items-center gap-2">
            {source.name}
            <span data-testid="source-state" data-state={status.data?.state ?? source.status}>
              <StateBadge state={status.data?.state ?? source.status} />
            </span>
          </span>
        }
        description={`${source.connector_type} · added ${new Date(source.created_at).toLocaleString()}`}
        actions={<EditLink id={source.id} />}
      />
      {source.last_error ? <ErrorBox title="Last error">{source.last_error}</ErrorBox> : null}
      {source.is_demo ? <DemoWriterBar id={source.id} on={source.demo_writer} /> : null}
      <div className="grid gap-4 lg:grid-cols-3">
        <Card title="Connection" className="lg:col-span-2">
          <dl className="grid grid-cols-[max-content_1fr] gap-x-6 gap-y-2 text-[13px]">
            <dt className="text-muted">Host</dt>
            <dd className="font-mono text-xs">
              {c.connection.host}:{c.connection.port}
            </dd>
            <dt className="text-muted">Database</dt>
            <dd className="font-mono text-xs">{c.connection.database}</dd>
            <dt className="text-muted">TLS</dt>
            <dd>{c.connection.ssl_mode}</dd>
            <dt className="text-muted">User</dt>
            <dd className="font-mono text-xs">{c.authentication.username}</dd>
            <dt className="text-muted">Password</dt>
            <dd className="font-mono text-xs" data-testid="password-reference">
              {c.authentication.password_secret ?? "none"}
            </dd>
            <dt className="text-muted">Batch size</dt>
            <dd>{c.options.batch_size}</dd>
            <dt className="text-muted">Change tracking</dt>
            <dd>{c.options.change_tracking}</dd>
          </dl>
        </Card>
        <Card title="Configuration (JSON)" actions={<ExportButton name={source.name} config={c} />}>
          <pre className="max-h-72 overflow-auto rounded bg-zinc-50 p-2 font-mono text-[11px] leading-relaxed">{JSON.stringify(c, null, 2)}</pre>
        </Card>
      </div>
      <div className="mt-4 grid gap-4 lg:grid-cols-2">
        <SnapshotCard sourceId={source.id} incremental={c.options.change_tracking === "incremental"} />
        {c.options.change_tracking === "cdc" ? <StreamCard sourceId={source.id} cdc /> : <SyncCard sourceId={source.id} incremental={c.options.change_tracking === "incremental"} />}
      </div>
      <div className="mt-4 grid gap-4 lg:grid-cols-3">
        <div className="lg:col-span-2">
          <EntitiesPanel sourceId={source.id} />
        </div>
        <HealthCard id={source.id} />
      </div>
      <div className="mt-4">
        <RunsHistory sourceId={source.id} />
      </div>
      <DangerZone id={source.id} name={source.name} />
    </>
  );
}

/** The demo source: its demo writer changes a few rows a second; a switch stops and starts it. */
function DemoWriterBar({ id, on }: { id: string; on: boolean }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const canEdit = useCan("editor");
  const set = useMutation(trpc.sources.setDemoWriter.mutationOptions({ onSuccess: () => qc.invalidateQueries({ queryKey: trpc.sources.get.queryKey({ id }) }) }));
  return (
    <div className="mb-4 flex flex-wrap items-center justify-between gap-2 rounded-lg border border-line bg-surface px-4 py-2.5 text-[13px]" data-testid="demo-writer" data-on={on ? "true" : "false"}>
      <span>
        <strong className="font-medium">Demo source.</strong>{" "}
        {on ? "A demo writer inserts, updates and deletes a few rows a second, and now and then writes broken JSON (a dead letter to replay)." : "The demo writer is paused: the demo's rows do not change."}
      </span>
      <Button variant="secondary" disabled={!canEdit || set.isPending} title={!canEdit ? needsRole("editor") : undefined} onClick={() => set.mutate({ id, enabled: !on })}>
        {on ? "Pause demo writer" : "Resume demo writer"}
      </Button>
    </div>
  );
}

function EditLink({ id }: { id: string }) {
  const canEdit = useCan("editor");
  if (!canEdit) {
    return (
      <Button variant="secondary" disabled title={needsRole("editor")}>
        Edit
      </Button>
    );
  }
  return (
    <Link href={`/sources/${id}/edit`} className="inline-flex h-8 items-center rounded-md border border-line bg-surface px-3 text-[13px] font-medium hover:bg-zinc-50">
      Edit
    </Link>
  );
}

/** Downloads the config in the specification's format (secrets are references, never values). */
function ExportButton({ name, config }: { name: string; config: unknown }) {
  return (
    <Button
      variant="ghost"
      onClick={() => downloadJson(`${name}.json`, JSON.stringify(config, null, 2))}
    >
      Export JSON
    </Button>
  );
}

function HealthCard({ id }: { id: string }) {
  const trpc = useTRPC();
  const health = useMutation(trpc.sources.health.mutationOptions());
  return (
    <Card
      title="Connection health"
      actions={
        <Button variant="secondary" onClick={() => health.mutate({ id })} disabled={health.isPending}>
          {health.isPending ? "Testing…" : "Test connection"}
        </Button>
      }
    >
      {health.error ? <ErrorBox>{health.error.message}</ErrorBox> : null}
      {health.data ? (
        <HealthChecks checks={health.data.checks} />
      ) : (
        <p className="text-[13px] text-muted">Checks reachability, credentials, privileges, and what change capture needs of the source.</p>
      )}
    </Card>
  );
}

function DangerZone({ id, name }: { id: string; name: string }) {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const canEdit = useCan("editor");
  const [typed, setTyped] = useState("");
  const remove = useMutation(
    trpc.sources.delete.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries({ queryKey: trpc.sources.list.queryKey() });
        router.push("/sources");
      },
    }),
  );
  return (
    <Card title="Delete source" className="mt-4">
      <p className="mb-3 text-[13px] text-muted">
        Removes the source and its stored secrets from ECM Connect, and whatever change capture set up on the source database (PostgreSQL: its replication slot, which keeps WAL while it is left there, and publication; MySQL sets nothing up). Type <code className="font-mono">{name}</code> to confirm.
      </p>
      <div className="flex items-end gap-2">
        <div className="w-72">
          <Field id="confirm-delete" label="Source name">
            <Input id="confirm-delete" value={typed} onChange={(e) => setTyped(e.target.value)} disabled={!canEdit} />
          </Field>
        </div>
        <Button
          variant="danger"
          disabled={!canEdit || typed !== name || remove.isPending}
          title={canEdit ? undefined : needsRole("editor")}
          onClick={() => remove.mutate({ id, drop_capture: true })}
        >
          Delete
        </Button>
      </div>
      {remove.error ? (
        <ErrorBox>
          {remove.error.message}
          {remove.error.data?.code === "CONFLICT" ? (
            <div className="mt-2">
              <Button variant="danger" disabled={!canEdit || remove.isPending} onClick={() => remove.mutate({ id, drop_capture: false })}>
                Delete and leave the capture on the source
              </Button>
            </div>
          ) : null}
        </ErrorBox>
      ) : null}
    </Card>
  );
}
