"use client";
import { useQuery } from "@tanstack/react-query";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useState } from "react";
import { useTRPC } from "../trpc.ts";
import { Badge } from "../ui/badge.tsx";
import { Button } from "../ui/button.tsx";
import { Card, ErrorBox, PageHeader, Skeleton } from "../ui/card.tsx";
import { Field, Input } from "../ui/field.tsx";

export function ContextsBrowser() {
  const trpc = useTRPC();
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();
  const type = params.get("type") ?? "";
  const [typeInput, setTypeInput] = useState(type);
  const [cursors, setCursors] = useState<string[]>([]); // stack of page cursors, for Back
  const cursor = cursors[cursors.length - 1];
  const list = useQuery({ ...trpc.contexts.list.queryOptions({ limit: 50, ...(type ? { context_type: type } : {}), ...(cursor ? { cursor } : {}) }), refetchInterval: 5000 });
  const [selected, setSelected] = useState<{ type: string; id: string } | null>(null);
  const detail = useQuery({
    ...trpc.contexts.get.queryOptions({ context_type: selected?.type ?? "", context_id: selected?.id ?? "", include_deleted: true }),
    enabled: !!selected,
    retry: false,
    refetchInterval: 2000, // a streamed change shows up without a reload
  });
  const [idInput, setIdInput] = useState("");

  return (
    <>
      <PageHeader title="Contexts" description="What the context store holds, by type and id." />
      <form
        className="mb-4 flex items-end gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          setCursors([]);
          router.replace(typeInput ? `${pathname}?type=${encodeURIComponent(typeInput)}` : pathname);
        }}
      >
        <div className="w-72">
          <Field id="context-type" label="Context type">
            <Input id="context-type" value={typeInput} onChange={(e) => setTypeInput(e.target.value)} placeholder="demo-customer" />
          </Field>
        </div>
        <Button type="submit" variant="secondary">
          Show
        </Button>
      </form>
      <form
        className="mb-4 flex items-end gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          if (typeInput && idInput) setSelected({ type: typeInput, id: idInput.trim() });
        }}
      >
        <div className="w-72">
          <Field id="context-id" label="Context id">
            <Input id="context-id" value={idInput} onChange={(e) => setIdInput(e.target.value)} placeholder="42" />
          </Field>
        </div>
        <Button type="submit" variant="secondary" disabled={!typeInput || !idInput.trim()} title={!typeInput ? "Enter the context type first" : undefined}>
          Look up
        </Button>
      </form>
      <div className="grid gap-4 lg:grid-cols-5">
        <Card className="lg:col-span-3">
          {list.error ? <ErrorBox>{list.error.message}</ErrorBox> : null}
          {list.isLoading ? <Skeleton className="h-64 w-full" /> : null}
          {list.data && list.data.contexts.length === 0 ? <p className="text-[13px] text-muted">No contexts yet. Save a mapping and run a snapshot of a source.</p> : null}
          {list.data && list.data.contexts.length > 0 ? (
            <>
              <table className="w-full text-left text-[13px]" data-testid="contexts">
                <thead className="text-xs text-muted">
                  <tr>
                    <th className="py-1.5 font-medium">Context type</th>
                    <th className="py-1.5 font-medium">Id</th>
                    <th className="py-1.5 font-medium">Entity</th>
                    <th className="py-1.5 font-medium">Updated</th>
                  </tr>
                </thead>
                <tbody className="divide-y divide-line">
                  {list.data.contexts.map((c) => (
                    <tr key={c.context_type + c.context_id} className="cursor-pointer hover:bg-zinc-50" onClick={() => setSelected({ type: c.context_type, id: c.context_id })}>
                      <td className="py-1.5 font-mono text-xs">{c.context_type}</td>
                      <td className="py-1.5 font-mono text-xs">
                        <button type="button" className="hover:text-accent" onClick={() => setSelected({ type: c.context_type, id: c.context_id })}>
                          {c.context_id}
                        </button>
                      </td>
                      <td className="py-1.5 font-mono text-xs text-muted">{c.entity}</td>
                      <td className="py-1.5 text-muted">{new Date(c.updated_at).toLocaleString()}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <div className="mt-3 flex justify-end gap-2">
                <Button variant="secondary" disabled={!cursors.length} onClick={() => setCursors(cursors.slice(0, -1))}>
                  Previous
                </Button>
                <Button variant="secondary" disabled={!list.data.next_cursor} onClick={() => setCursors([...cursors, list.data.next_cursor!])}>
                  Next
                </Button>
              </div>
            </>
          ) : null}
        </Card>
        <Card title="Context" className="lg:col-span-2">
          {!selected ? <p className="text-[13px] text-muted">Select a context, or look one up by id, to see its JSON, source and cursor.</p> : null}
          {selected && detail.error ? (
            <p className="text-[13px] text-muted" data-testid="context-not-found">
              {detail.error.data?.code === "NOT_FOUND" ? `No context ${selected.type} / ${selected.id} in the store.` : detail.error.message}
            </p>
          ) : null}
          {detail.data && !detail.error ? (
            <div data-testid="context-detail">
              <p className="mb-2 flex items-center gap-2 font-mono text-xs">
                {detail.data.context_type} / {detail.data.context_id} {detail.data.deleted ? <Badge tone="red">deleted</Badge> : null}
              </p>
              <dl className="mb-2 grid grid-cols-[max-content_1fr] gap-x-4 gap-y-1 text-xs">
                <dt className="text-muted">Entity</dt>
                <dd className="font-mono">{detail.data.entity}</dd>
                <dt className="text-muted">Cursor</dt>
                <dd className="font-mono">{detail.data.cursor ?? "snapshot"}</dd>
                <dt className="text-muted">Mapping version</dt>
                <dd>{detail.data.mapping_version}</dd>
              </dl>
              <pre className="max-h-96 overflow-auto rounded bg-zinc-50 p-2 font-mono text-[11px]">{JSON.stringify(detail.data.data, null, 2)}</pre>
            </div>
          ) : null}
        </Card>
      </div>
    </>
  );
}
