"use client";
// The live preview: sample rows of one mapped entity through the draft, each source row beside
// the context it becomes, the fields that fail marked on the context's side with why.
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root.ts";
import { Badge } from "../ui/badge.tsx";
import { Card, ErrorBox, Skeleton } from "../ui/card.tsx";
import { Select } from "../ui/field.tsx";

type Preview = inferRouterOutputs<AppRouter>["mappings"]["preview"];

export function LivePreview(props: {
  tables: string[];
  entity: string;
  onEntity: (entity: string) => void;
  preview: { isPending: boolean; data?: Preview; error: { message: string } | null };
  /** Show the preview's own error (false: its problems are listed with the editor's, by field path). */
  showError: boolean;
  failing: Set<string>;
}) {
  const { tables, entity, preview } = props;
  return (
    <Card
      title="Live preview"
      actions={
        tables.length > 1 ? (
          <Select aria-label="Entity to preview" value={entity} onChange={(e) => props.onEntity(e.target.value)} className="w-48">
            {tables.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </Select>
        ) : (
          <span className="font-mono text-xs text-muted">{entity}</span>
        )
      }
    >
      {preview.isPending && !preview.data ? <Skeleton className="h-40 w-full" /> : null}
      {preview.error && props.showError ? <ErrorBox>{preview.error.message}</ErrorBox> : null}
      {preview.data ? (
        <ul className="max-h-[640px] space-y-2 overflow-auto" data-testid="preview">
          {preview.data.records.map((r, i) => (
            <PreviewRecord key={i} record={r} />
          ))}
        </ul>
      ) : null}
      {props.failing.size ? <p className="mt-2 text-xs text-red-800">Failing fields in these rows: {[...props.failing].join(", ")}</p> : null}
    </Card>
  );
}

function PreviewRecord({ record: r }: { record: Preview["records"][number] }) {
  return (
    <li className={`rounded-md border p-2 ${r.errors.length ? "border-red-300 bg-red-50/40" : "border-line"}`} data-testid="preview-record" data-failed={r.errors.length ? "true" : "false"}>
      {/* Long values wrap inside the card instead of running past its edge. */}
      <div className="grid min-w-0 grid-cols-1 gap-2 sm:grid-cols-2">
        <div className="min-w-0">
          <p className="mb-0.5 text-[11px] font-medium text-muted">Source row</p>
          <pre className="min-w-0 whitespace-pre-wrap break-all font-mono text-[11px] text-muted">{JSON.stringify(r.source, null, 1)}</pre>
        </div>
        <div className="min-w-0">
          <p className="mb-0.5 text-[11px] font-medium text-muted">Mapped context</p>
          <pre className="min-w-0 whitespace-pre-wrap break-all font-mono text-[11px]">{r.context ? JSON.stringify(r.context, null, 1) : "—"}</pre>
          {r.errors.map((e) => (
            <p key={e.field} className="mt-1 flex flex-wrap items-center gap-x-2 text-xs text-red-800" data-testid="preview-failing-field">
              <Badge tone="red">{e.category}</Badge>
              <code className="font-mono font-semibold">✕ {e.field}</code> {e.message}
            </p>
          ))}
        </div>
      </div>
    </li>
  );
}
