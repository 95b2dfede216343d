"use client";
// The visual form of a mapping document: per mapped table (each can be collapsed), its source
// columns on the left (drag one onto the target fields, or press Map), the context's fields on the
// right, one row each: source column → transform → target path, with the value the first preview
// row gives it (or its error). Every edit produces the same spec document the JSON tab shows.
import { useQuery } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { useTRPC } from "../trpc.ts";
import { Badge } from "../ui/badge.tsx";
import { Button } from "../ui/button.tsx";
import { Input, Select } from "../ui/field.tsx";

export type FieldDoc = { source?: string; target: string; transform?: unknown };
export type EntryDoc = { source: { table: string; cursor?: string[]; soft_delete?: string }; target: { context_type: string }; fields: FieldDoc[] };

/** `source` with one optional part set (or removed when undefined), the others kept. */
function withSource<K extends "cursor" | "soft_delete">(source: EntryDoc["source"], key: K, value: EntryDoc["source"][K] | undefined): EntryDoc["source"] {
  const next = { ...source };
  if (value === undefined) delete next[key];
  else next[key] = value;
  return next;
}

/** A column that looks like a modification time (suggested as the incremental cursor). */
const MODIFIED = /(updated|modified|changed|last_?update|mtime)/i;
export type TransformInfo = { name: string; summary: string; example: string; needs_source: boolean };
/** The first preview row of an entity through the draft: each field shows the value it gets (or its error). */
export type FieldSample = { entity: string; context: { context_id: string; data: Record<string, unknown> } | null; errors: { field: string | null; message: string }[] };

/** The value the sample gives a target path (undefined: none). */
function sampleValue(sample: FieldSample, target: string): unknown {
  if (!sample.context) return undefined;
  if (target === "context_id") return sample.context.context_id;
  const parts = target.split(".");
  if (parts[0] !== "data" || parts.length < 2) return undefined; // not a path the mapping accepts
  let node: unknown = sample.context.data;
  for (const part of parts.slice(1)) {
    if (node === null || typeof node !== "object" || Array.isArray(node) || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

const transformName = (t: unknown): string => (typeof t === "string" ? t : t && typeof t === "object" && "name" in t ? String((t as { name: unknown }).name) : "");
const slug = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, "_").replace(/^([^A-Za-z_])/, "_$1");

export function VisualBuilder(props: {
  sourceId: string;
  entries: EntryDoc[];
  tables: string[];
  transforms: TransformInfo[];
  failing: Set<string>;
  /** The first preview row of the previewed entity, for each field's value. */
  sample?: FieldSample | null;
  /** A field to point at (opened from a dead letter): highlighted and scrolled into view. */
  focus?: { entity: string; field: string | null } | null;
  disabled: boolean;
  onChange: (entries: EntryDoc[]) => void;
}) {
  const { entries, onChange } = props;
  const [adding, setAdding] = useState("");
  const unmapped = props.tables.filter((t) => !entries.some((e) => e.source.table === t));
  const update = (i: number, entry: EntryDoc) => onChange(entries.map((e, j) => (j === i ? entry : e)));
  return (
    <div className="space-y-4">
      {entries.map((entry, i) => (
        <EntryEditor
          key={`${entry.source.table}-${i}`}
          {...props}
          entry={entry}
          onChange={(e) => update(i, e)}
          onRemove={() => onChange(entries.filter((_, j) => j !== i))}
        />
      ))}
      <div className="flex items-end gap-2">
        <label className="flex flex-col gap-1 text-xs text-muted">
          Map another table
          <Select aria-label="Table to map" value={adding} onChange={(e) => setAdding(e.target.value)} disabled={props.disabled} className="w-56">
            <option value="">choose a table…</option>
            {unmapped.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </Select>
        </label>
        <Button
          variant="secondary"
          disabled={props.disabled || !adding}
          onClick={() => {
            onChange([...entries, { source: { table: adding }, target: { context_type: `${adding.split(".").pop()}-context` }, fields: [] }]);
            setAdding("");
          }}
        >
          Add mapping
        </Button>
      </div>
    </div>
  );
}

function EntryEditor(props: {
  sourceId: string;
  entry: EntryDoc;
  transforms: TransformInfo[];
  failing: Set<string>;
  sample?: FieldSample | null;
  focus?: { entity: string; field: string | null } | null;
  disabled: boolean;
  onChange: (entry: EntryDoc) => void;
  onRemove: () => void;
}) {
  const { entry, onChange, disabled } = props;
  const [collapsed, setCollapsed] = useState(false);
  const sample = props.sample?.entity === entry.source.table ? props.sample : null;
  const trpc = useTRPC();
  const schema = useQuery(trpc.sources.entity.queryOptions({ id: props.sourceId, name: entry.source.table }));
  const [over, setOver] = useState(false);
  const focusedField = props.focus?.entity === entry.source.table ? props.focus.field : null;
  const focusRef = useRef<HTMLLIElement | null>(null);
  useEffect(() => {
    // A block body on purpose: newer Chromium returns a Promise from scrollIntoView, and an
    // effect must return nothing or its cleanup function.
    focusRef.current?.scrollIntoView({ block: "center" });
  }, [focusedField, schema.data]);
  const columns = schema.data?.columns ?? [];
  const key = schema.data?.primary_key ?? [];
  const used = new Set(entry.fields.map((f) => f.source));
  const hasId = entry.fields.some((f) => f.target === "context_id");
  const setFields = (fields: FieldDoc[]) => onChange({ ...entry, fields });
  const mapColumn = (column: string) => {
    const target = !hasId && key.includes(column) ? "context_id" : `data.${slug(column)}`;
    setFields([...entry.fields, { source: column, target }]);
  };
  // Targets shown as a tree: sorted by path, indented by depth, context_id first.
  const order = entry.fields.map((f, i) => ({ f, i })).sort((a, b) => (a.f.target === "context_id" ? -1 : b.f.target === "context_id" ? 1 : a.f.target.localeCompare(b.f.target)));

  return (
    <section className="rounded-md border border-line" aria-label={`Mapping of ${entry.source.table}`} data-testid="visual-entry">
      <header className={`flex flex-wrap items-center gap-2 px-3 py-2 text-[13px] ${collapsed ? "" : "border-b border-line"}`}>
        <button
          type="button"
          className="rounded px-1 text-muted hover:bg-zinc-100 hover:text-ink"
          aria-expanded={!collapsed}
          aria-label={`Show the fields of ${entry.source.table}`}
          onClick={() => setCollapsed(!collapsed)}
        >
          {collapsed ? "▸" : "▾"}
        </button>
        <span className="font-mono text-xs">{entry.source.table}</span>
        {collapsed ? <span className="text-xs text-muted">{entry.fields.length} field{entry.fields.length === 1 ? "" : "s"}</span> : null}
        <span className="text-muted">→ context type</span>
        <Input aria-label={`Context type for ${entry.source.table}`} value={entry.target.context_type} onChange={(e) => onChange({ ...entry, target: { context_type: e.target.value } })} disabled={disabled} className="w-56" />
        <CursorSelect table={entry.source.table} columns={columns} value={entry.source.cursor} disabled={disabled} onChange={(cursor) => onChange({ ...entry, source: withSource(entry.source, "cursor", cursor) })} />
        <label className="flex items-center gap-1 text-[13px] text-muted" title="A row whose column is set (and not false) is deleted: its context becomes a tombstone">
          deleted when
          <Select aria-label={`Soft-delete column of ${entry.source.table}`} className="w-40 text-xs" value={entry.source.soft_delete ?? ""} disabled={disabled} onChange={(e) => onChange({ ...entry, source: withSource(entry.source, "soft_delete", e.target.value || undefined) })}>
            <option value="">never (no column)</option>
            {columns
              .filter((c) => ["time", "boolean", "number", "text"].includes(c.kind) && !c.is_array)
              .map((c) => (
                <option key={c.name} value={c.name}>
                  {c.name}
                </option>
              ))}
            {entry.source.soft_delete && !columns.some((c) => c.name === entry.source.soft_delete) ? <option value={entry.source.soft_delete}>{entry.source.soft_delete}</option> : null}
          </Select>
        </label>
        <Button variant="ghost" className="ml-auto" disabled={disabled} onClick={props.onRemove}>
          Remove
        </Button>
      </header>
      {/* The source's columns as a row of chips above the fields (the fields get the card's whole
          width); minmax(0, …): a field's one-line texts (truncated) never widen the entry. */}
      <div className="grid grid-cols-1 gap-2 p-3" hidden={collapsed}>
        <div>
          <h3 className="mb-1 text-xs font-medium text-muted">Source columns (press Map, or drag one onto the fields)</h3>
          <ul className="flex flex-wrap gap-1" aria-label={`Columns of ${entry.source.table}`}>
            {columns.map((c) => (
              <li
                key={c.name}
                draggable={!disabled}
                onDragStart={(e) => e.dataTransfer.setData("text/plain", c.name)}
                className={`flex max-w-full items-center gap-1 rounded border px-1.5 py-0.5 text-xs ${used.has(c.name) ? "border-line bg-zinc-50" : "border-line"}`}
                title={c.type}
              >
                <span className="truncate font-mono">{c.name}</span>
                <span className="sr-only">{c.type}</span>
                {key.includes(c.name) ? <Badge>key</Badge> : null}
                <Button variant="ghost" className="h-5 px-1" disabled={disabled} aria-label={`Map ${c.name}`} onClick={() => mapColumn(c.name)} title={used.has(c.name) ? "Already mapped; map it again to a second field" : `Add a field from this column (${c.type})`}>
                  Map →
                </Button>
              </li>
            ))}
          </ul>
        </div>
        <div
          onDragOver={(e) => {
            e.preventDefault();
            setOver(true);
          }}
          onDragLeave={() => setOver(false)}
          onDrop={(e) => {
            e.preventDefault();
            setOver(false);
            const column = e.dataTransfer.getData("text/plain");
            if (column && !disabled) mapColumn(column);
          }}
          className={`rounded border border-dashed p-2 ${over ? "border-accent bg-sky-50" : "border-line"}`}
        >
          <h3 className="mb-1 text-xs font-medium text-muted">Target fields (drop a column here)</h3>
          {!entry.fields.length ? <p className="text-xs text-muted">No fields yet: map the key column first, it becomes context_id.</p> : null}
          <div className="hidden grid-cols-[minmax(0,1fr)_minmax(0,1fr)_minmax(0,1.3fr)_minmax(0,1fr)_1.5rem] gap-1.5 px-1 pb-1 text-[11px] text-muted sm:grid" aria-hidden>
            <span>Column</span>
            <span>Transform</span>
            <span>Target path</span>
            <span>{sample ? "Preview (first row)" : ""}</span>
            <span />
          </div>
          <ul className="space-y-1" aria-label={`Fields of ${entry.target.context_type}`}>
            {order.map(({ f, i }) => {
              const depth = f.target === "context_id" ? 0 : Math.max(0, f.target.split(".").length - 2);
              const chosen = props.transforms.find((t) => t.name === transformName(Array.isArray(f.transform) ? f.transform[0] : f.transform));
              const chain = Array.isArray(f.transform) && f.transform.length > 1;
              const setField = (next: FieldDoc) => setFields(entry.fields.map((x, j) => (j === i ? next : x)));
              const failed = props.failing.has(f.target);
              const error = sample?.errors.find((e) => e.field === f.target);
              const value = sample ? sampleValue(sample, f.target) : undefined;
              const shown = value === undefined ? undefined : JSON.stringify(value);
              return (
                <li
                  key={i}
                  ref={focusedField === f.target ? focusRef : undefined}
                  className={`rounded border px-1 py-1 text-xs ${failed ? "border-red-300 bg-red-50/50" : "border-line"} ${focusedField === f.target ? "ring-2 ring-accent" : ""}`}
                  data-testid="visual-field"
                  data-failed={failed ? "true" : undefined}
                  data-focused={focusedField === f.target ? "true" : undefined}
                  aria-current={focusedField === f.target ? "location" : undefined}
                >
                  <div className="grid grid-cols-2 items-center gap-1.5 sm:grid-cols-[minmax(0,1fr)_minmax(0,1fr)_minmax(0,1.3fr)_minmax(0,1fr)_1.5rem]">
                    <Select aria-label={`Source column of ${f.target}`} value={f.source ?? ""} onChange={(e) => setField({ ...f, source: e.target.value || undefined })} disabled={disabled} className="h-7 w-full min-w-0 text-xs">
                      <option value="">(no column)</option>
                      {columns.map((c) => (
                        <option key={c.name}>{c.name}</option>
                      ))}
                    </Select>
                    {chain ? (
                      <span className="truncate font-mono text-muted" title="A chain of transforms: edit it in the JSON tab">
                        {(f.transform as unknown[]).map(transformName).join(" → ")}
                      </span>
                    ) : (
                      <Select
                        aria-label={`Transform of ${f.target}`}
                        value={transformName(f.transform)}
                        onChange={(e) => setField({ ...f, transform: e.target.value || undefined })}
                        disabled={disabled || (typeof f.transform === "object" && f.transform !== null)}
                        className="h-7 w-full min-w-0 text-xs"
                        title={chosen ? `${chosen.summary} ${chosen.example}` : "no transform: the column's value as it is"}
                      >
                        <option value="">no transform</option>
                        {props.transforms.map((t) => (
                          <option key={t.name}>{t.name}</option>
                        ))}
                      </Select>
                    )}
                    <Input
                      aria-label={`Target path of field ${i + 1}`}
                      value={f.target}
                      onChange={(e) => setField({ ...f, target: e.target.value })}
                      disabled={disabled}
                      className="h-7 w-full min-w-0 font-mono text-xs"
                      style={{ paddingLeft: `${0.5 + depth * 0.75}rem` }}
                    />
                    <span
                      className={`min-w-0 truncate font-mono text-[11px] ${error ? "text-red-800" : "text-muted"}`}
                      data-testid="field-preview"
                      aria-label={`Preview of ${f.target}`}
                      title={error ? error.message : shown?.slice(0, 200)}
                    >
                      {error ? `✕ ${error.message}` : (shown ?? "")}
                    </span>
                    <Button variant="ghost" className="h-6 px-1" disabled={disabled} aria-label={`Remove ${f.target}`} onClick={() => setFields(entry.fields.filter((_, j) => j !== i))}>
                      ✕
                    </Button>
                  </div>
                  {chosen ? (
                    <p className="mt-0.5 truncate px-1 text-[11px] text-muted" title={`${chosen.summary} ${chosen.example}`}>
                      <code className="font-mono">{chosen.name}</code>: {chosen.summary} <span className="font-mono">{chosen.example}</span>
                    </p>
                  ) : null}
                </li>
              );
            })}
          </ul>
          <Button variant="ghost" className="mt-1" disabled={disabled} onClick={() => setFields([...entry.fields, { target: hasId ? "data.new_field" : "context_id" }])}>
            + Add field
          </Button>
        </div>
      </div>
    </section>
  );
}

/**
 * The entity's incremental cursor (docs/incremental.md): a modification-time column, the one
 * that looks like one suggested first. Used when the source's change tracking is incremental.
 */
function CursorSelect(props: { table: string; columns: { name: string; clock?: boolean; type: string }[]; value?: string[]; disabled: boolean; onChange: (cursor: string[] | undefined) => void }) {
  const times = props.columns.filter((c) => c.clock);
  const suggested = times.find((c) => MODIFIED.test(c.name));
  const current = props.value?.[0] ?? "";
  return (
    <label className="flex items-center gap-1 text-[13px] text-muted" title="Incremental sync reads the rows whose cursor moved since the last run (change tracking: incremental)">
      cursor
      <Select
        aria-label={`Incremental cursor of ${props.table}`}
        className="w-48 text-xs"
        value={current}
        disabled={props.disabled}
        // The first column changes; tie-breaking columns set in the JSON editor stay.
        onChange={(e) => props.onChange(e.target.value ? [e.target.value, ...(props.value ?? []).slice(1).filter((c) => c !== e.target.value)] : undefined)}
      >
        <option value="">none (read whole)</option>
        {times.map((c) => (
          <option key={c.name} value={c.name}>
            {c.name}
            {c === suggested ? " (suggested)" : ""}
          </option>
        ))}
        {current && !times.some((c) => c.name === current) ? <option value={current}>{current}</option> : null}
      </Select>
    </label>
  );
}
