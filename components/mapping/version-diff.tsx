"use client";
// Compare two saved mapping versions field by field: tables and context types added or removed,
// and per table the target fields added, removed or changed (source column or transform).
import { useQuery } from "@tanstack/react-query";
import { useSearchParams } from "next/navigation";
import { useState } from "react";
import { useTRPC } from "../trpc.ts";
import { Badge } from "../ui/badge.tsx";
import { Card } from "../ui/card.tsx";
import { Select } from "../ui/field.tsx";
import { diffMappings, type Entry } from "./diff.ts";

export function VersionDiff({ sourceId }: { sourceId: string }) {
  const trpc = useTRPC();
  const versions = useQuery(trpc.mappings.versions.queryOptions({ id: sourceId }));
  const list = versions.data?.versions.map((v) => v.version).sort((x, y) => y - x) ?? [];
  // Until the user picks: the versions the link asked for (?from=&to=, the Audit page's), else the
  // newest version against the one before it.
  const params = useSearchParams();
  const asked = (name: string) => ((n) => (Number.isInteger(n) && n > 0 && n < 1_000_000 ? n : 0))(Number(params.get(name)));
  const [pickedA, setA] = useState(() => asked("from"));
  const [pickedB, setB] = useState(() => asked("to"));
  const a = (list.includes(pickedA) ? pickedA : 0) || list[1] || 0;
  const b = (list.includes(pickedB) ? pickedB : 0) || list[0] || 0;
  const va = useQuery({ ...trpc.mappings.version.queryOptions({ id: sourceId, version: a || 1 }), enabled: a > 0 });
  const vb = useQuery({ ...trpc.mappings.version.queryOptions({ id: sourceId, version: b || 1 }), enabled: b > 0 });
  const lines = va.data && vb.data ? diffMappings(va.data.mappings as Entry[], vb.data.mappings as Entry[]) : null;
  const tone = { added: "green", removed: "red", changed: "amber" } as const;
  return (
    <Card title="Compare versions" id="versions">
      {list.length < 2 ? (
        <p className="text-[13px] text-muted">Save a second version to compare versions.</p>
      ) : (
        <>
          <div className="mb-3 flex items-center gap-2 text-[13px]">
            <VersionSelect label="From version" versions={list} value={a} onChange={setA} />
            <span className="text-muted">→</span>
            <VersionSelect label="To version" versions={list} value={b} onChange={setB} />
          </div>
          {lines === null ? null : lines.length === 0 ? (
            <p className="text-[13px] text-muted">No differences.</p>
          ) : (
            <ul className="space-y-1 text-xs" data-testid="version-diff">
              {lines.map((l, i) => (
                <li key={i} className="flex items-start gap-2">
                  <Badge tone={tone[l.kind]}>{l.kind}</Badge>
                  <span className="font-mono">{l.where}</span>
                  <span className="text-muted">{l.what}</span>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </Card>
  );
}

function VersionSelect({ label, versions, value, onChange }: { label: string; versions: number[]; value: number; onChange: (v: number) => void }) {
  return (
    <Select aria-label={label} value={value} onChange={(e) => onChange(Number(e.target.value))} className="w-28">
      {versions.map((v) => (
        <option key={v} value={v}>
          v{v}
        </option>
      ))}
    </Select>
  );
}
