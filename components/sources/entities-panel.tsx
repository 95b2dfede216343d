"use client";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useTRPC } from "../trpc.ts";
import { Badge } from "../ui/badge.tsx";
import { Card, ErrorBox, Skeleton } from "../ui/card.tsx";

export function EntitiesPanel({ sourceId }: { sourceId: string }) {
  const trpc = useTRPC();
  const { data, error, isLoading } = useQuery(trpc.sources.entities.queryOptions({ id: sourceId }));
  return (
    <Card title="Entities">
      {isLoading ? <Skeleton className="h-32 w-full" /> : null}
      {error ? <ErrorBox title="Could not read the source's tables">{error.message}</ErrorBox> : null}
      {data && data.entities.length === 0 ? <p className="text-[13px] text-muted">No tables or views visible to this user.</p> : null}
      {data && data.entities.length > 0 ? (
        <table className="w-full text-left text-[13px]">
          <thead className="text-xs text-muted">
            <tr>
              <th className="py-1.5 font-medium">Entity</th>
              <th className="py-1.5 font-medium">Kind</th>
              <th className="py-1.5 font-medium">Primary key</th>
              <th className="py-1.5 text-right font-medium">Rows (est.)</th>
              <th className="py-1.5 pl-4 font-medium">CDC</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-line">
            {data.entities.map((e) => (
              <tr key={e.name} data-testid="entity-row">
                <td className="py-1.5">
                  <Link href={`/sources/${sourceId}/entities/${encodeURIComponent(e.name)}`} className="font-mono text-xs font-medium hover:text-accent">
                    {e.name}
                  </Link>
                </td>
                <td className="py-1.5 text-muted">{e.kind.replace("_", " ")}</td>
                <td className="py-1.5 font-mono text-xs">{e.primary_key.join(", ") || <span className="text-amber-700">none</span>}</td>
                <td className="py-1.5 text-right tabular-nums">{e.row_estimate.toLocaleString()}</td>
                <td className="py-1.5 pl-4">{e.cdc ? <Badge tone="green">yes</Badge> : <Badge>no</Badge>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Card>
  );
}
