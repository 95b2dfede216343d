// The specification's mapping document, exactly as written, plus transform chains:
//   {"mappings": [{"source": {"table": "customers"}, "target": {"context_type": "customer-context"},
//     "fields": [{"source": "customer_id", "target": "context_id"},
//                {"source": "preferences", "target": "data.preferences", "transform": "json_parse"}]}]}
// A transform is a name, an object with its arguments ({"name": "default", "value": 0}), or a
// chain of either (["trim", "lowercase"]).
import { z } from "zod";
import { isPrototypeKey } from "../json/safe.ts";

/** Bounds on one mapping document, so validating, compiling and previewing it stays cheap. */
export const MAPPING_LIMITS = { mappings: 200, fieldsPerMapping: 500, pathDepth: 10, segmentLength: 100, sourceLength: 200 } as const;

export const ZTransformRef = z.union([
  z.string().min(1),
  z.object({ name: z.string().min(1).max(100) }).catchall(z.unknown()),
]);
export type TTransformRef = z.infer<typeof ZTransformRef>;

// A target names an own property at every level: segments that reach a prototype (__proto__,
// constructor, prototype) are refused, and the depth is bounded.
export const ZTargetPath = z
  .string()
  .max(MAPPING_LIMITS.pathDepth * (MAPPING_LIMITS.segmentLength + 1) + 4)
  .regex(/^(context_id|data(\.[A-Za-z_][A-Za-z0-9_-]*)+)$/, 'must be "context_id" or a dot path into data, such as "data.email" or "data.address.city"')
  .refine((t) => !t.split(".").some(isPrototypeKey), "__proto__, constructor and prototype cannot be field names (they name an object's prototype)")
  .refine((t) => t.split(".").length - 1 <= MAPPING_LIMITS.pathDepth, `at most ${MAPPING_LIMITS.pathDepth} levels below data`)
  .refine((t) => t.split(".").every((s) => s.length <= MAPPING_LIMITS.segmentLength), `each name at most ${MAPPING_LIMITS.segmentLength} characters`);

export const ZFieldMapping = z
  .object({
    // Optional only for transforms that make a value from nothing or the whole row (constant, template).
    source: z.string().min(1).max(MAPPING_LIMITS.sourceLength).optional(),
    target: ZTargetPath,
    transform: z.union([ZTransformRef, z.array(ZTransformRef).min(1).max(20, "at most 20 transforms in a chain")]).optional(),
  })
  .strict();
export type TFieldMapping = z.infer<typeof ZFieldMapping>;

export const ZEntityMapping = z
  .object({
    source: z
      .object({
        table: z.string().min(1).max(MAPPING_LIMITS.sourceLength),
        // Incremental sync (docs/incremental.md): the columns whose order says a row changed, a
        // modification time first (ties broken by them, then by the key).
        cursor: z
          .array(z.string().min(1).max(MAPPING_LIMITS.sourceLength))
          .min(1, "name at least one column, a modification time first")
          .max(4, "at most 4 cursor columns")
          .optional(),
        // A column that marks a row deleted (a deleted_at time, an is_deleted flag): set and not
        // false, the row's context is a tombstone, as for a delete (how incremental sync sees deletes between full passes).
        soft_delete: z.string().min(1).max(MAPPING_LIMITS.sourceLength).optional(),
      })
      .strict(),
    target: z.object({ context_type: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/, "letters, digits, _ . : - (at most 100)") }).strict(),
    fields: z.array(ZFieldMapping).min(1, "map at least context_id").max(MAPPING_LIMITS.fieldsPerMapping, `at most ${MAPPING_LIMITS.fieldsPerMapping} fields per mapping`),
  })
  .strict();
export type TEntityMapping = z.infer<typeof ZEntityMapping>;

export const ZMappingDocument = z.object({ mappings: z.array(ZEntityMapping).max(MAPPING_LIMITS.mappings, `at most ${MAPPING_LIMITS.mappings} mappings`) }).strict();
export type TMappingDocument = z.infer<typeof ZMappingDocument>;

export function transformChain(field: TFieldMapping): { name: string; args: Record<string, unknown> }[] {
  const raw = field.transform === undefined ? [] : Array.isArray(field.transform) ? field.transform : [field.transform];
  // Arguments are own properties copied by defineProperty (fromEntries), never through a prototype.
  return raw.map((t) => (typeof t === "string" ? { name: t, args: {} } : { name: t.name, args: Object.fromEntries(Object.entries(t).filter(([k]) => k !== "name" && !isPrototypeKey(k))) }));
}
