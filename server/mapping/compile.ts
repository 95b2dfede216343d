// A mapping entry turned once into a function (row → context), generated as straight-line code
// so the hot path does no interpretation per row. Preview uses the same compiled steps field by
// field to report every failing field at once.
import type { JsonValue, SourceRecord } from "../connectors/types.ts";
import { JsonText, materialize } from "../json/json-text.ts";
import { bareObject, own } from "../json/safe.ts";
import { isSecretName } from "../secrets/redact.ts";
import { transformChain, type TEntityMapping } from "./spec.ts";
import { TRANSFORMS, TransformError, type TransformEnv, type TransformFn } from "./transforms.ts";

export type MappedContext = { context_type: string; context_id: string; data: Record<string, JsonValue> };

/** A record that cannot be mapped: the spec's DATA category, for this record only. */
export class MappingDataError extends Error {
  readonly category = "DATA" as const;
  constructor(
    message: string,
    readonly field: string,
    readonly fieldIndex: number,
    readonly transform?: string,
  ) {
    super(message);
    this.name = "MappingDataError";
  }
}

type Step = {
  index: number;
  source?: string;
  target: string;
  path: string[];
  fn: TransformFn | null;
  names: string[];
  /** Every column the step's value depends on (its source and columns a template names). */
  reads: string[];
};

/**
 * Whether a soft-delete column's value marks its row deleted: a time or any other value set, a
 * true flag; not NULL, false, 0 or its text forms (MySQL's BOOLEAN is 0/1, BIT(1) "0"/"1").
 */
export function marksDeleted(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0) return false;
  if (typeof value === "string") return !["", "0", "f", "false", "n", "no"].includes(value.trim().toLowerCase());
  return true;
}

export type CompiledMapping = {
  entity: string;
  contextType: string;
  steps: Step[];
  map: (row: SourceRecord) => MappedContext;
  /** Only the context_id (for deletes, where the change may carry just the key columns). */
  contextId: (row: SourceRecord) => string;
  /** Columns context_id depends on. */
  idReads: string[];
  /** Whether context_id reads a secret-looking column (then a reported id is shown redacted). */
  secretId: boolean;
  /** The soft-delete column (source.soft_delete), if any. */
  softDeleteColumn: string | null;
  /** Whether the row is deleted by its soft-delete column (marksDeleted). */
  softDeleted: (row: SourceRecord) => boolean;
  preview: (row: SourceRecord) => { context: MappedContext | null; errors: { field: string; message: string; category: "DATA" }[] };
};

// A large json value carried as text (json/json-text.ts) reaches a transform parsed; without a
// transform it passes through to the store as text.
function chainFn(steps: { name: string; fn: TransformFn }[]): TransformFn {
  if (steps.length === 1) {
    const [{ name, fn }] = steps as [{ name: string; fn: TransformFn }];
    return (v, row) => {
      try {
        return fn(materialize(v), row);
      } catch (e) {
        throw new StepFailure(0, name, e);
      }
    };
  }
  return (v, row) => {
    let out: JsonValue = materialize(v);
    for (let i = 0; i < steps.length; i++) {
      try {
        out = steps[i]!.fn(out, row);
      } catch (e) {
        throw new StepFailure(i, steps[i]!.name, e);
      }
    }
    return out;
  };
}

class StepFailure extends Error {
  constructor(
    readonly step: number,
    readonly transform: string,
    readonly error: unknown,
  ) {
    super((error as Error).message);
  }
}

export function contextIdOf(value: JsonValue): string {
  if (value instanceof JsonText) throw new TransformError("context_id must be text or a number, got a JSON document");
  if (typeof value === "string" && value !== "") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (value === null || value === undefined) throw new TransformError("context_id is NULL");
  if (typeof value === "string") throw new TransformError("context_id must be text or a number, got empty text");
  throw new TransformError("context_id must be text or a number", value);
}

/**
 * A step's failure as a DATA error. When any column the step reads (its source, the columns a
 * template names) or the target field looks secret (the rule that redacts payloads and logs), the
 * message says what failed without quoting the value.
 */
function toDataError(step: Step, e: unknown): MappingDataError {
  const cause = e instanceof StepFailure ? e.error : e;
  const secret = step.reads.some(isSecretName) || isSecretName(step.target);
  const text = cause instanceof TransformError && secret ? cause.redacted : (cause as Error).message;
  if (e instanceof StepFailure) return new MappingDataError(`${step.target}: ${e.transform} failed: ${text}`, step.target, step.index, e.transform);
  return new MappingDataError(`${step.target}: ${text}`, step.target, step.index);
}

/** Builds the nested `data` object literal of the generated code from the target paths. */
function dataLiteral(steps: Step[]): string {
  type Node = Map<string, Node | string>;
  const root: Node = new Map();
  for (const s of steps) {
    if (s.target === "context_id") continue;
    let node = root;
    s.path.forEach((segment, i) => {
      if (i === s.path.length - 1) node.set(segment, `v${s.index}`);
      else {
        const child = node.get(segment);
        node = child instanceof Map ? child : (node.set(segment, new Map()), node.get(segment) as Node);
      }
    });
  }
  // Computed keys (["k"]: v) define own properties whatever the name; a literal "__proto__": v
  // would set the object's prototype instead.
  const render = (n: Node): string =>
    `{${[...n]
      .map(([k, v]) => `[${JSON.stringify(k)}]: ${typeof v === "string" ? v : render(v)}`)
      .join(", ")}}`;
  return render(root);
}

export function compileMapping(entry: TEntityMapping, env: TransformEnv = {}): CompiledMapping {
  const steps: Step[] = entry.fields.map((f, index) => {
    const chain = transformChain(f).map((t) => ({ name: t.name, fn: TRANSFORMS.get(t.name)!.compile(TRANSFORMS.get(t.name)!.args.parse(t.args), env) }));
    const templated = transformChain(f)
      .filter((t) => t.name === "template")
      .flatMap((t) => [...String(t.args.template ?? "").matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!));
    return {
      index,
      source: f.source,
      target: f.target,
      path: f.target === "context_id" ? [] : f.target.split(".").slice(1),
      fn: chain.length ? chainFn(chain) : null,
      names: chain.map((c) => c.name),
      reads: [...new Set([...(f.source ? [f.source] : []), ...templated])],
    };
  });
  const idStep = steps.find((s) => s.target === "context_id")!;
  const fns = steps.map((s) => s.fn);
  // A column whose name is also a member of Object.prototype (toString, constructor, __proto__) is
  // read as an own property; any other name is read directly (the hot path).
  const read = (s: Step) =>
    s.source === undefined ? "undefined" : s.source in Object.prototype ? `own(r, ${JSON.stringify(s.source)})` : `r[${JSON.stringify(s.source)}]`;
  const body = [
    "let at = -1;",
    "try {",
    ...steps.map((s) => `  at = ${s.index}; const v${s.index} = ${s.fn ? `fns[${s.index}](${read(s)}, r)` : read(s)};`),
    `  at = ${idStep.index}; const id = contextIdOf(v${idStep.index});`,
    `  return { context_type: ${JSON.stringify(entry.target.context_type)}, context_id: id, data: ${dataLiteral(steps)} };`,
    "} catch (e) { throw fail(at, e); }",
  ].join("\n");
  const fail = (at: number, e: unknown) => toDataError(steps[at]!, e);
  // Generated once per mapping version; identifiers and strings are JSON-quoted, never spliced raw.
  const map = new Function("fns", "contextIdOf", "fail", "own", `return function map(r) {\n${body}\n}`)(fns, contextIdOf, fail, own) as CompiledMapping["map"];

  function preview(row: SourceRecord) {
    const errors: { field: string; message: string; category: "DATA" }[] = [];
    const data = bareObject<JsonValue>();
    let id: string | null = null;
    for (const s of steps) {
      try {
        const raw = s.source === undefined ? null : (own<JsonValue>(row, s.source) ?? null);
        const v = s.fn ? s.fn(raw, row) : raw;
        if (s.target === "context_id") id = contextIdOf(v);
        else setPath(data, s.path, v);
      } catch (e) {
        const err = toDataError(s, e);
        errors.push({ field: s.target, message: err.message, category: "DATA" });
      }
    }
    return { context: errors.length || id === null ? null : { context_type: entry.target.context_type, context_id: id, data }, errors };
  }

  function contextId(row: SourceRecord): string {
    try {
      const raw = idStep.source === undefined ? null : (own<JsonValue>(row, idStep.source) ?? null);
      return contextIdOf(idStep.fn ? idStep.fn(raw, row) : raw);
    } catch (e) {
      throw toDataError(idStep, e);
    }
  }

  const softDelete = entry.source.soft_delete;
  const softDeleted = softDelete === undefined ? () => false : (row: SourceRecord) => marksDeleted(own<SourceRecord[string]>(row, softDelete));
  return { entity: entry.source.table, contextType: entry.target.context_type, steps, map, preview, contextId, idReads: idStep.reads, secretId: idStep.reads.some(isSecretName), softDeleteColumn: softDelete ?? null, softDeleted };
}

function setPath(obj: Record<string, JsonValue>, path: string[], value: JsonValue) {
  let node = obj;
  path.forEach((segment, i) => {
    if (i === path.length - 1) node[segment] = value;
    else node = (own(node, segment) ?? (node[segment] = bareObject())) as Record<string, JsonValue>;
  });
}
