// The specification's mapping document, exactly as written, plus transform chains:
//   {"mappings": [{"source": {"table": "customers"}, "target": {"context_type": "customer-context"},
//     "fields": [{"source": "customer_id", "target": "context_id"},
//                {"source": "preferences", "target": "data.preferences", "transform": "json_parse"}]}]}
// A transform is a name, an object with its arguments ({"name": "default", "value": 0}), or a
// chain of either (["trim", "lowercase"]).
import { z } from "zod";

export const ZTransformRef = z.union([
  z.string().min(1),
  z.object({ name: z.string().min(1) }).catchall(z.unknown()),
]);
export type TTransformRef = z.infer<typeof ZTransformRef>;

export const ZTargetPath = z
  .string()
  .regex(/^(context_id|data(\.[A-Za-z_][A-Za-z0-9_-]*)+)$/, 'must be "context_id" or a dot path into data, such as "data.email" or "data.address.city"');

export const ZFieldMapping = z
  .object({
    // Optional only for transforms that make a value from nothing or the whole row (constant, template).
    source: z.string().min(1).optional(),
    target: ZTargetPath,
    transform: z.union([ZTransformRef, z.array(ZTransformRef).min(1)]).optional(),
  })
  .strict();
export type TFieldMapping = z.infer<typeof ZFieldMapping>;

export const ZEntityMapping = z
  .object({
    source: z.object({ table: z.string().min(1) }).strict(),
    target: z.object({ context_type: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/, "letters, digits, _ . : - (at most 100)") }).strict(),
    fields: z.array(ZFieldMapping).min(1, "map at least context_id"),
  })
  .strict();
export type TEntityMapping = z.infer<typeof ZEntityMapping>;

export const ZMappingDocument = z.object({ mappings: z.array(ZEntityMapping) }).strict();
export type TMappingDocument = z.infer<typeof ZMappingDocument>;

export function transformChain(field: TFieldMapping): { name: string; args: Record<string, unknown> }[] {
  const raw = field.transform === undefined ? [] : Array.isArray(field.transform) ? field.transform : [field.transform];
  return raw.map((t) => (typeof t === "string" ? { name: t, args: {} } : { name: t.name, args: Object.fromEntries(Object.entries(t).filter(([k]) => k !== "name")) }));
}
