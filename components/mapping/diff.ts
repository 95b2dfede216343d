// Differences between two mapping documents, for the version comparison (pure, unit-tested).
export type Entry = { source: { table: string }; target: { context_type: string }; fields: { source?: string; target: string; transform?: unknown }[] };
export type DiffLine = { kind: "added" | "removed" | "changed"; where: string; what: string };

/** The differences from `a` to `b`, keyed by table and target path. */
export function diffMappings(a: Entry[], b: Entry[]): DiffLine[] {
  const out: DiffLine[] = [];
  const byTable = (es: Entry[]) => new Map(es.map((e) => [`${e.source.table} → ${e.target.context_type}`, e]));
  const [ma, mb] = [byTable(a), byTable(b)];
  for (const [k, e] of mb) if (!ma.has(k)) out.push({ kind: "added", where: k, what: `${e.fields.length} fields` });
  for (const [k, e] of ma) if (!mb.has(k)) out.push({ kind: "removed", where: k, what: `${e.fields.length} fields` });
  const show = (f: Entry["fields"][number]) => `${f.source ?? "(no column)"}${f.transform === undefined ? "" : ` | ${JSON.stringify(f.transform)}`}`;
  for (const [k, eb] of mb) {
    const ea = ma.get(k);
    if (!ea) continue;
    const fa = new Map(ea.fields.map((f) => [f.target, f]));
    const fb = new Map(eb.fields.map((f) => [f.target, f]));
    for (const [t, f] of fb) {
      const before = fa.get(t);
      if (!before) out.push({ kind: "added", where: `${k}: ${t}`, what: show(f) });
      else if (show(before) !== show(f)) out.push({ kind: "changed", where: `${k}: ${t}`, what: `${show(before)} ⇒ ${show(f)}` });
    }
    for (const [t, f] of fa) if (!fb.has(t)) out.push({ kind: "removed", where: `${k}: ${t}`, what: show(f) });
  }
  return out;
}
