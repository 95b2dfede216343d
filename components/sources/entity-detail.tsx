"use client";
import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "../trpc.ts";
import { Breadcrumbs } from "../ui/breadcrumbs.tsx";
import { Badge } from "../ui/badge.tsx";
import { Card, ErrorBox, PageHeader, Skeleton } from "../ui/card.tsx";

function cell(value: unknown) {
  if (value === null || value === undefined) return <span className="text-zinc-400">null</span>;
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return <span title={text}>{text.length > 60 ? `${text.slice(0, 60)}…` : text}</span>;
}

export function EntityDetail({ sourceId, name }: { sourceId: string; name: string }) {
  const trpc = useTRPC();
  const source = useQuery(trpc.sources.get.queryOptions({ id: sourceId }));
  const entity = useQuery(trpc.sources.entity.queryOptions({ id: sourceId, name }));
  const sample = useQuery({ ...trpc.sources.sample.queryOptions({ id: sourceId, name, limit: 20 }), enabled: !!entity.data && entity.data.primary_key.length > 0 });

  return (
    <>
      <Breadcrumbs items={[{ label: "Sources", href: "/sources" }, { label: source.data?.name ?? "…", href: `/sources/${sourceId}` }, { label: <span className="font-mono">{name}</span> }]} />
      <PageHeader
        title={<span className="font-mono">{name}</span>}
        description={entity.data ? `${entity.data.kind.replace("_", " ")} · about ${entity.data.row_estimate.toLocaleString()} rows · replica identity ${entity.data.replica_identity}` : undefined}
      />
      {entity.error ? <ErrorBox title="Could not describe this entity">{entity.error.message}</ErrorBox> : null}
      {entity.isLoading ? <Skeleton className="h-40 w-full" /> : null}
      {entity.data ? (
        <div className="space-y-4">
          <Card title="Columns">
            <table className="w-full text-left text-[13px]" data-testid="columns">
              <thead className="text-xs text-muted">
                <tr>
                  <th className="py-1.5 font-medium">Column</th>
                  <th className="py-1.5 font-medium">Type</th>
                  <th className="py-1.5 font-medium">Key</th>
                  <th className="py-1.5 font-medium">Nullable</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-line">
                {entity.data.columns.map((c) => (
                  <tr key={c.name}>
                    <td className="py-1.5 font-mono text-xs font-medium">{c.name}</td>
                    <td className="py-1.5 font-mono text-xs text-muted">
                      {c.type}
                      {c.is_enum ? <span className="ml-1.5 text-[11px]">enum</span> : null}
                    </td>
                    <td className="py-1.5">{c.primary_key_position ? <Badge tone="blue">PK {c.primary_key_position}</Badge> : null}</td>
                    <td className="py-1.5 text-muted">{c.nullable ? "yes" : "no"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Card>
          <Card title="Sample rows (first 20 by key)">
            {entity.data.primary_key.length === 0 ? (
              <p className="text-[13px] text-muted">This entity has no primary key, so it cannot be snapshotted or streamed. Add a primary key to map it.</p>
            ) : sample.error ? (
              <ErrorBox>{sample.error.message}</ErrorBox>
            ) : !sample.data ? (
              <Skeleton className="h-32 w-full" />
            ) : (
              <div className="overflow-x-auto">
                <table className="w-full text-left font-mono text-xs" data-testid="sample-rows">
                  <thead className="text-muted">
                    <tr>
                      {entity.data.columns.map((c) => (
                        <th key={c.name} className="whitespace-nowrap px-2 py-1.5 font-medium">
                          {c.name}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody className="divide-y divide-line">
                    {sample.data.contexts.map((ctx) => (
                      <tr key={ctx.context_id}>
                        {entity.data.columns.map((c) => (
                          <td key={c.name} className="whitespace-nowrap px-2 py-1.5">
                            {cell(ctx.data[c.name])}
                          </td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Card>
        </div>
      ) : null}
    </>
  );
}
