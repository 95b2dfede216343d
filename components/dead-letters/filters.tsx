"use client";
// The workbench's filters (kept in the URL by the workbench): source, status, entity, category, since.
import { Field, Input, Select } from "../ui/field.tsx";
import { CATEGORIES, STATUSES, type LetterFilter } from "./filter.ts";

/** An ISO instant as the value of a datetime-local input (the browser's local time, to the minute). */
function toLocalInput(iso: string) {
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

export function DeadLetterFilters({ filter, sources, setFilter }: { filter: LetterFilter; sources: { id: string; name: string }[]; setFilter: (key: string, value: string) => void }) {
  return (
    <div className="mb-4 grid grid-cols-2 gap-3 md:grid-cols-5">
      <Field id="dl-source" label="Source">
        <Select id="dl-source" value={filter.source_id ?? ""} onChange={(e) => setFilter("source_id", e.target.value)}>
          <option value="">All sources</option>
          {sources.map((s) => (
            <option key={s.id} value={s.id}>
              {s.name}
            </option>
          ))}
        </Select>
      </Field>
      <Field id="dl-status" label="Status">
        <Select id="dl-status" value={filter.status} onChange={(e) => setFilter("status", e.target.value)}>
          {STATUSES.map((st) => (
            <option key={st}>{st}</option>
          ))}
        </Select>
      </Field>
      <Field id="dl-entity" label="Entity">
        <Input
          id="dl-entity"
          key={filter.entity ?? ""} // follows the URL when it changes (e.g. the sidebar link clears it)
          placeholder="any table"
          defaultValue={filter.entity ?? ""}
          onKeyDown={(e) => e.key === "Enter" && setFilter("entity", e.currentTarget.value.trim())}
          onBlur={(e) => e.target.value.trim() !== (filter.entity ?? "") && setFilter("entity", e.target.value.trim())}
        />
      </Field>
      <Field id="dl-category" label="Category">
        <Select id="dl-category" value={filter.category ?? ""} onChange={(e) => setFilter("category", e.target.value)}>
          <option value="">any</option>
          {CATEGORIES.map((c) => (
            <option key={c}>{c}</option>
          ))}
        </Select>
      </Field>
      <Field id="dl-since" label="Since">
        <Input
          id="dl-since"
          type="datetime-local"
          value={filter.since ? toLocalInput(filter.since) : ""}
          onChange={(e) => setFilter("since", e.target.value ? new Date(e.target.value).toISOString() : "")}
        />
      </Field>
    </div>
  );
}
