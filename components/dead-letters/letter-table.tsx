"use client";
// The dead letters matching the filter, a page at a time: select some to replay, open one.
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root.ts";
import { Badge } from "../ui/badge.tsx";
import { Button } from "../ui/button.tsx";
import { Card, ErrorBox, Skeleton } from "../ui/card.tsx";
import { STATUS_TONE } from "./filter.ts";

type Page = inferRouterOutputs<AppRouter>["deadLetters"]["list"];

export function DeadLetterTable(props: {
  list: { isLoading: boolean; data?: Page; error: { message: string } | null };
  emptyText: string;
  selected: Set<string>;
  setSelected: (ids: Set<string>) => void;
  open: string | null;
  setOpen: (id: string) => void;
  sourceName: (id: string) => string;
  hasPrevious: boolean;
  onPrevious: () => void;
  onNext: () => void;
}) {
  const { list, selected, setSelected, open, setOpen, sourceName } = props;
  const rows = list.data?.dead_letters ?? [];
  return (
    <Card className="lg:col-span-3">
      {list.isLoading ? <Skeleton className="h-64 w-full" /> : null}
      {list.error ? <ErrorBox>{list.error.message}</ErrorBox> : null}
      {list.data && !rows.length ? <p className="text-[13px] text-muted">{props.emptyText}</p> : null}
      {rows.length ? (
        <table className="w-full text-left text-[13px]" data-testid="dead-letters">
          <thead className="text-xs text-muted">
            <tr>
              <th className="w-6 py-1.5">
                <input
                  type="checkbox"
                  aria-label="Select all on this page"
                  checked={rows.every((r) => selected.has(r.id))}
                  onChange={(e) => setSelected(e.target.checked ? new Set(rows.map((r) => r.id)) : new Set())}
                />
              </th>
              <th className="py-1.5 font-medium">Source / entity</th>
              <th className="py-1.5 font-medium">Key</th>
              <th className="py-1.5 font-medium">Error</th>
              <th className="py-1.5 font-medium">Status</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-line">
            {rows.map((d) => (
              <tr key={d.id} className={open === d.id ? "bg-zinc-50" : "hover:bg-zinc-50"} data-testid="dead-letter-row">
                <td className="py-1.5">
                  <input
                    type="checkbox"
                    aria-label={`Select ${d.entity} ${d.key.join(",")}`}
                    checked={selected.has(d.id)}
                    onChange={(e) => {
                      const next = new Set(selected);
                      if (e.target.checked) next.add(d.id);
                      else next.delete(d.id);
                      setSelected(next);
                    }}
                  />
                </td>
                <td className="py-1.5 text-xs">
                  {sourceName(d.source_id)} / <span className="font-mono">{d.entity}</span>
                </td>
                <td className="py-1.5 font-mono text-xs">
                  <button type="button" className="hover:text-accent" onClick={() => setOpen(d.id)}>
                    {d.key.join(", ")}
                  </button>
                </td>
                <td className="max-w-xs truncate py-1.5 text-xs" title={d.error.message}>
                  <Badge tone="amber">{d.category}</Badge> <code className="font-mono">{d.error.field}</code>
                </td>
                <td className="py-1.5">
                  <Badge tone={STATUS_TONE[d.status]}>{d.status}</Badge>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <div className="mt-3 flex justify-end gap-2">
        <Button variant="secondary" disabled={!props.hasPrevious} onClick={props.onPrevious}>
          Previous
        </Button>
        <Button variant="secondary" disabled={!list.data?.next_cursor} onClick={props.onNext}>
          Next
        </Button>
      </div>
    </Card>
  );
}
