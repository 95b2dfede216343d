"use client";
import { useInfiniteQuery } from "@tanstack/react-query";
import Link from "next/link";
import { needsRole, useCan } from "../shell/me.tsx";
import { useTRPC } from "../trpc.ts";
import { StateBadge } from "../ui/badge.tsx";
import { Button } from "../ui/button.tsx";
import { ago, bytes } from "../ui/format.ts";
import { ErrorBox, PageHeader, Skeleton } from "../ui/card.tsx";

export function AddSourceButton() {
  const canEdit = useCan("editor");
  if (!canEdit) {
    return (
      <span title={needsRole("editor")}>
        <button disabled className="h-8 rounded-md bg-zinc-200 px-3 text-[13px] font-medium text-zinc-500" aria-disabled>
          Add source
        </button>
      </span>
    );
  }
  return (
    <Link href="/sources/new" className="inline-flex h-8 items-center rounded-md bg-accent px-3 text-[13px] font-medium text-white hover:bg-accent-hover">
      Add source
    </Link>
  );
}

export function SourcesList() {
  const trpc = useTRPC();
  const list = useInfiniteQuery({
    ...trpc.sources.list.infiniteQueryOptions({ limit: 50 }, { getNextPageParam: (last) => last.next_cursor ?? undefined }),
    refetchInterval: 5000,
  });
  const { error, isLoading } = list;
  const data = list.data ? { sources: list.data.pages.flatMap((p) => p.sources) } : undefined;

  return (
    <>
      <PageHeader title="Sources" description="Databases whose state flows into the context store." actions={<AddSourceButton />} />
      {error ? <ErrorBox title="Could not load sources">{error.message}</ErrorBox> : null}
      {isLoading ? (
        <div className="space-y-2">
          {[0, 1, 2].map((i) => (
            <Skeleton key={i} className="h-11 w-full" />
          ))}
        </div>
      ) : data && data.sources.length === 0 ? (
        <EmptyState />
      ) : data ? (
        <div className="overflow-x-auto rounded-lg border border-line bg-surface">
          <table className="w-full text-left text-[13px]">
            <thead className="border-b border-line bg-zinc-50 text-xs text-muted">
              <tr>
                <th className="px-4 py-2 font-medium">Name</th>
                <th className="px-4 py-2 font-medium">Type</th>
                <th className="px-4 py-2 font-medium">State</th>
                <th className="px-4 py-2 font-medium">Lag</th>
                <th className="px-4 py-2 font-medium">Last checkpoint</th>
                <th className="px-4 py-2 font-medium">Database</th>
                <th className="px-4 py-2 font-medium">Added</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-line">
              {data.sources.map((s) => (
                <tr key={s.id} className="hover:bg-zinc-50" data-testid="source-row">
                  <td className="px-4 py-2.5">
                    <Link href={`/sources/${s.id}`} className="font-medium text-ink hover:text-accent">
                      {s.name}
                    </Link>
                    {s.is_demo ? <span className="ml-2 text-xs text-muted">demo</span> : null}
                  </td>
                  <td className="px-4 py-2.5 text-muted">{s.connector_type}</td>
                  <td className="px-4 py-2.5">
                    <StateBadge state={s.state} />
                  </td>
                  <td className="px-4 py-2.5 tabular-nums text-muted" data-testid="source-lag">
                    {s.lag_bytes === null ? "—" : s.lag_seconds === null ? bytes(s.lag_bytes) : `${bytes(s.lag_bytes)} · ${s.lag_seconds} s`}
                  </td>
                  <td className="px-4 py-2.5 text-muted" data-testid="source-checkpoint" title={s.last_checkpoint_at ?? undefined}>
                    {ago(s.last_checkpoint_at)}
                  </td>
                  <td className="px-4 py-2.5 font-mono text-xs text-muted">
                    {s.config.connection.host}:{s.config.connection.port}/{s.config.connection.database}
                  </td>
                  <td className="px-4 py-2.5 text-muted">{new Date(s.created_at).toLocaleString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {list.hasNextPage ? (
            <div className="border-t border-line p-2 text-center">
              <Button variant="secondary" disabled={list.isFetchingNextPage} onClick={() => list.fetchNextPage()}>
                Show more sources
              </Button>
            </div>
          ) : null}
        </div>
      ) : null}
    </>
  );
}

function EmptyState() {
  return (
    <div className="rounded-lg border border-dashed border-line bg-surface px-6 py-10 text-center">
      <h2 className="font-semibold">Add your first source</h2>
      <ol className="mx-auto mt-3 max-w-md space-y-1 text-left text-[13px] text-muted">
        <li>1. Connect: give the database&apos;s host, name and a user that may read (and replicate).</li>
        <li>2. Map: choose tables and map their columns to context fields.</li>
        <li>3. Stream: run a snapshot, then keep the store in sync with change data capture.</li>
      </ol>
      <div className="mt-5">
        <AddSourceButton />
      </div>
    </div>
  );
}
