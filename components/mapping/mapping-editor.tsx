"use client";
// The mapping editor: build it visually (columns → target fields, transform picker) or edit the
// spec's JSON form (the same document), validate against the source's schema, save as the next
// version, preview sample rows through the draft as you change it, and compare versions.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useSearchParams } from "next/navigation";
import { useEffect, useMemo, useState } from "react";
import { needsRole, useCan } from "../shell/me.tsx";
import { byPath, issuesFrom } from "../sources/issues.ts";
import { useTRPC } from "../trpc.ts";
import { Breadcrumbs } from "../ui/breadcrumbs.tsx";
import { IssueList } from "../ui/issue-list.tsx";
import { Button } from "../ui/button.tsx";
import { Card, ErrorBox, PageHeader, Skeleton } from "../ui/card.tsx";
import { Field, Textarea } from "../ui/field.tsx";
import { downloadJson } from "../ui/download.ts";
import { ImportJsonButton } from "../ui/import-json.tsx";
import { VisualBuilder, type EntryDoc } from "./visual-builder.tsx";
import { VersionDiff } from "./version-diff.tsx";
import { LivePreview } from "./live-preview.tsx";

type Doc = { mappings: { source: { table: string }; target: { context_type: string }; fields: unknown[] }[] };

function parse(text: string): { doc: Doc | null; error: string | null } {
  try {
    const doc = JSON.parse(text) as Doc;
    if (!doc || !Array.isArray(doc.mappings)) return { doc: null, error: 'expected {"mappings": [ … ]}' };
    return { doc, error: null };
  } catch (e) {
    return { doc: null, error: (e as Error).message };
  }
}

export function MappingEditor({ sourceId }: { sourceId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const canEdit = useCan("editor");
  const source = useQuery(trpc.sources.get.queryOptions({ id: sourceId }));
  const saved = useQuery(trpc.mappings.get.queryOptions({ id: sourceId }));
  const entities = useQuery(trpc.sources.entities.queryOptions({ id: sourceId }));
  const coverage = useQuery(trpc.mappings.coverage.queryOptions({ id: sourceId }));
  // Re-map existing contexts on save (docs/lifecycle.md): on by default once the source has
  // contexts (a first mapping has none to re-map: its first snapshot is the user's to start).
  const [remapChoice, setRemap] = useState<boolean | null>(null);
  const remap = remapChoice ?? (coverage.data?.contexts.some((c) => c.contexts > 0) ?? false);
  const transforms = useQuery(trpc.mappings.transforms.queryOptions());
  const [text, setText] = useState<string | null>(null);
  // Opened from a dead letter: preview its entity and point at the field that failed.
  const params = useSearchParams();
  const focus = params.get("entity") ? { entity: params.get("entity")!, field: params.get("field") } : null;
  const [entity, setEntity] = useState<string>(focus?.entity ?? "");
  const [mode, setMode] = useState<"visual" | "json">("visual");

  // Start from the saved mapping, or a starter for the first table with a key.
  useEffect(() => {
    if (text !== null || !saved.data || !entities.data) return;
    if (saved.data.mappings.length) {
      setText(JSON.stringify({ mappings: saved.data.mappings }, null, 2));
      return;
    }
    const first = entities.data.entities.find((e) => e.primary_key.length);
    setText(
      JSON.stringify(
        first ? { mappings: [{ source: { table: first.name }, target: { context_type: `${first.table}-context` }, fields: [{ source: first.primary_key[0], target: "context_id" }] }] } : { mappings: [] },
        null,
        2,
      ),
    );
  }, [saved.data, entities.data, text]);

  const { doc, error: jsonError } = useMemo(() => parse(text ?? ""), [text]);
  const tables = doc?.mappings.map((m) => m.source?.table).filter(Boolean) ?? [];
  const previewEntity = tables.includes(entity) ? entity : (tables[0] ?? "");

  const preview = useMutation(trpc.mappings.preview.mutationOptions());
  const save = useMutation(
    trpc.mappings.save.mutationOptions({
      onSuccess: () => {
        void queryClient.invalidateQueries({ queryKey: trpc.mappings.get.queryKey({ id: sourceId }) });
        void queryClient.invalidateQueries({ queryKey: trpc.mappings.versions.queryKey({ id: sourceId }) });
        void queryClient.invalidateQueries({ queryKey: trpc.mappings.coverage.queryKey({ id: sourceId }) });
      },
    }),
  );
  const previewMutate = preview.mutate;

  // Live preview: recomputed shortly after the draft stops changing.
  useEffect(() => {
    if (!doc || !previewEntity) return;
    const timer = setTimeout(() => previewMutate({ id: sourceId, entity: previewEntity, limit: 20, mappings: doc.mappings as never }), 600);
    return () => clearTimeout(timer);
  }, [doc, previewEntity, sourceId, previewMutate]);

  const saveIssues = issuesFrom(save.error);
  const previewIssues = issuesFrom(preview.error);
  const issues = saveIssues.length ? saveIssues : previewIssues;
  const erroredFields = new Set(preview.data?.records.flatMap((r) => r.errors.map((e) => e.field)) ?? []);

  if (saved.isLoading || entities.isLoading || text === null) return <Skeleton className="h-96 w-full" />;

  return (
    <>
      <Breadcrumbs items={[{ label: "Sources", href: "/sources" }, { label: source.data?.name ?? "…", href: `/sources/${sourceId}` }, { label: "Mapping" }]} />
      <PageHeader
        title="Mapping"
        description={
          <>
            {saved.data?.version ? `Version ${saved.data.version} is in force.` : "No mapping saved yet."}
            {coverage.data?.older ? (
              <span data-testid="older-contexts">
                {" "}
                {coverage.data.older.toLocaleString()} context{coverage.data.older === 1 ? " is" : "s are"} still built by an older version: save with “Re-map existing contexts” to rebuild them.
              </span>
            ) : null}
          </>
        }
        actions={
          <div className="flex flex-wrap items-center gap-3">
            <label className="flex items-center gap-1.5 text-[13px]" title="Re-snapshot the entities whose mapping changed under the new version, and tombstone the contexts of entities removed from it">
              <input type="checkbox" checked={remap} onChange={(e) => setRemap(e.target.checked)} disabled={!canEdit} />
              Re-map existing contexts
            </label>
            <Button
              disabled={!canEdit || !doc || save.isPending}
              title={canEdit ? undefined : needsRole("editor")}
              onClick={() => doc && save.mutate({ id: sourceId, mappings: doc.mappings as never, remap })}
            >
              {save.isPending ? "Saving…" : `Save as version ${(saved.data?.version ?? 0) + 1}`}
            </Button>
          </div>
        }
      />
      {save.data && !save.error ? (
        <div role="status" className="mb-4 rounded-md border border-emerald-200 bg-emerald-50 px-3 py-2 text-[13px] text-emerald-900" data-testid="saved">
          Saved as version {save.data.version}.
          {save.data.remap?.entities.length ? ` Re-mapping ${save.data.remap.entities.join(", ")} (a snapshot run, shown on the source's page).` : ""}
          {save.data.remap?.removed.length ? ` ${save.data.remap.tombstoned.toLocaleString()} contexts of ${save.data.remap.removed.join(", ")} (no longer mapped) were tombstoned.` : ""}
        </div>
      ) : null}
      {save.data?.warnings.length && !save.error ? (
        <div role="alert" className="mb-4 rounded-md border border-amber-200 bg-amber-50 px-3 py-2 text-[13px] text-amber-900" data-testid="save-warnings">
          {save.data.warnings.map((w) => (
            <p key={w.path}>
              <code>{w.path}</code>: {w.message}
            </p>
          ))}
        </div>
      ) : null}
      <div className="grid gap-4 xl:grid-cols-[3fr_2fr]">
        <Card
          title={
            <span role="tablist" aria-label="Editor" className="flex gap-1">
              {(["visual", "json"] as const).map((m) => (
                <button
                  key={m}
                  role="tab"
                  aria-selected={mode === m}
                  onClick={() => setMode(m)}
                  className={`rounded px-2 py-0.5 ${mode === m ? "bg-zinc-100 font-semibold" : "font-normal text-muted hover:text-ink"}`}
                >
                  {m === "visual" ? "Visual" : "JSON (the specification's format)"}
                </button>
              ))}
            </span>
          }
        >
          {mode === "visual" ? (
            doc ? (
              <VisualBuilder
                sourceId={sourceId}
                entries={doc.mappings as EntryDoc[]}
                tables={entities.data?.entities.map((e) => e.name) ?? []}
                transforms={transforms.data?.transforms ?? []}
                failing={erroredFields}
                sample={preview.data?.records[0] && preview.variables ? { entity: preview.variables.entity, context: preview.data.records[0].context, errors: preview.data.records[0].errors } : null}
                focus={focus}
                disabled={!canEdit}
                onChange={(mappings) => setText(JSON.stringify({ mappings }, null, 2))}
              />
            ) : (
              <ErrorBox>The JSON form is not valid ({jsonError}): fix it in the JSON tab to edit visually.</ErrorBox>
            )
          ) : (
            <>
              <Field id="mapping-json" label="JSON" error={jsonError ? `Not valid JSON: ${jsonError}` : undefined} hint="Edit, then save. Each problem below names its field path.">
                <Textarea id="mapping-json" rows={24} value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} invalid={!!jsonError} disabled={!canEdit} />
              </Field>
              <div className="mt-2 flex gap-2">
                <ImportJsonButton disabled={!canEdit} onText={setText} />
                <Button
                  variant="ghost"
                  onClick={() => downloadJson(`${source.data?.name ?? "source"}-mapping.json`, text)}
                >
                  Export JSON
                </Button>
              </div>
            </>
          )}
          {issues.length ? (
            <IssueList title={saveIssues.length ? "Not saved: the mapping has problems" : "The draft has problems"} issues={issues} testId="mapping-issues" />
          ) : save.error ? (
            <ErrorBox>{save.error.message}</ErrorBox>
          ) : null}
          <details className="mt-3 text-[13px]">
            <summary className="cursor-pointer text-muted">Transforms ({transforms.data?.transforms.length ?? 0})</summary>
            <ul className="mt-2 space-y-1.5">
              {transforms.data?.transforms.map((t) => (
                <li key={t.name}>
                  <code className="font-mono text-xs font-medium">{t.name}</code> <span className="text-muted">{t.summary}</span>
                  <div className="font-mono text-[11px] text-zinc-500">{t.example}</div>
                </li>
              ))}
            </ul>
          </details>
        </Card>
        <LivePreview tables={tables} entity={previewEntity} onEntity={setEntity} preview={preview} showError={!previewIssues.length} failing={erroredFields} />
      </div>
      <div className="mt-4">
        <VersionDiff sourceId={sourceId} />
      </div>
    </>
  );
}
