import { describe, expect, it } from "vitest";
import type { EntitySchema } from "../connectors/types.ts";
import { compileMapping, MappingDataError } from "./compile.ts";
import { ZMappingDocument } from "./spec.ts";
import { validateMapping } from "./validate.ts";
import { SPEC_EXAMPLE_MAPPING as SPEC_EXAMPLE } from "../../test/support/spec-mapping.ts";

// The kind a connector would give each type (PostgreSQL's catalog does it for real).
const col = (name: string, base_type: string, extra: Partial<EntitySchema["columns"][number]> = {}): EntitySchema["columns"][number] => ({
  name,
  type: base_type,
  base_type,
  nullable: true,
  is_array: false,
  is_enum: false,
  kind: extra.is_array ? "array" : /int|numeric/.test(base_type) ? "number" : "text",
  ...extra,
});
const customers: EntitySchema = {
  name: "customers",
  schema: "public",
  table: "customers",
  kind: "table",
  primary_key: ["customer_id"],
  replica_identity: "default",
  old_row: "key",
  old_row_fix: "ALTER TABLE customers REPLICA IDENTITY FULL",
  row_estimate: 0,
  cdc: true,
  columns: [
    col("customer_id", "bigint", { primary_key_position: 1, nullable: false }),
    col("email", "text"),
    col("first_name", "text"),
    col("last_name", "text"),
    col("preferences", "text"),
    col("score", "integer"),
    col("tags", "text", { is_array: true, type: "text[]" }),
  ],
};
const lookup = (t: string) => (t === "customers" ? customers : null);
const validate = (doc: unknown) => validateMapping(ZMappingDocument.parse(doc), lookup, { hashSalt: "s" });
const paths = (doc: unknown) => validate(doc).map((i) => i.path);

describe("mapping validation", () => {
  it("accepts the specification's example as written", () => {
    expect(validate(SPEC_EXAMPLE)).toEqual([]);
  });

  it("names each problem by field path", () => {
    const doc = {
      mappings: [
        {
          source: { table: "customers" },
          target: { context_type: "c" },
          fields: [
            { source: "email", target: "data.email" },
            { source: "nope", target: "data.x" },
            { source: "email", target: "data.email" },
            { source: "email", target: "data.email.domain" },
            { source: "score", target: "data.prefs", transform: "json_parse" },
            { source: "email", target: "data.y", transform: ["trim", "shout"] },
            { source: "email", target: "data.z", transform: { name: "mask", keep_last: -1 } },
            { target: "data.w", transform: "trim" },
            { target: "data.full", transform: { name: "template", template: "{first_name} {middle}" } },
          ],
        },
        { source: { table: "ghosts" }, target: { context_type: "g" }, fields: [{ source: "id", target: "context_id" }] },
      ],
    };
    expect(paths(doc)).toEqual([
      "mappings[0].fields[1].source",
      "mappings[0].fields[2].target",
      "mappings[0].fields[3].target",
      "mappings[0].fields[4].transform",
      "mappings[0].fields[5].transform[1]",
      "mappings[0].fields[6].transform.keep_last",
      "mappings[0].fields[7].source",
      "mappings[0].fields[8].transform.template",
      "mappings[0].fields",
      "mappings[1].source.table",
    ]);
    const messages = validate(doc).map((i) => i.message).join("\n");
    expect(messages).toMatch(/json_parse cannot take number values/);
    expect(messages).toMatch(/unknown transform "shout"/);
    expect(messages).toMatch(/map a column to context_id/);
  });

  it("checks types along a chain: a cast makes the next transform valid", () => {
    const doc = (transform: unknown) => ({
      mappings: [{ source: { table: "customers" }, target: { context_type: "c" }, fields: [{ source: "customer_id", target: "context_id" }, { source: "score", target: "data.s", transform }] }],
    });
    expect(paths(doc(["trim"]))).toEqual(["mappings[0].fields[1].transform[0]"]);
    expect(paths(doc(["string", "trim"]))).toEqual([]);
  });

  it("rejects malformed target paths while parsing", () => {
    const r = ZMappingDocument.safeParse({ mappings: [{ source: { table: "t" }, target: { context_type: "c" }, fields: [{ source: "a", target: "email" }] }] });
    expect(r.success).toBe(false);
  });
});

describe("compiled mapper", () => {
  const mapper = compileMapping(ZMappingDocument.parse({
    mappings: [
      {
        source: { table: "customers" },
        target: { context_type: "customer-context" },
        fields: [
          { source: "customer_id", target: "context_id" },
          { source: "email", target: "data.contact.email", transform: ["trim", "lowercase"] },
          { source: "preferences", target: "data.preferences", transform: "json_parse" },
          { target: "data.name", transform: { name: "template", template: "{first_name} {last_name}" } },
          { source: "score", target: "data.score", transform: { name: "default", value: 0 } },
        ],
      },
    ],
  }).mappings[0]!);

  it("maps a row to the spec's context shape, nested paths created, unmapped columns left out", () => {
    expect(mapper.map({ customer_id: 7, email: " Ada@X.io ", first_name: "Ada", last_name: "L", preferences: '{"n": true}', score: null, tags: ["x"] })).toEqual({
      context_type: "customer-context",
      context_id: "7",
      data: { contact: { email: "ada@x.io" }, preferences: { n: true }, name: "Ada L", score: 0 },
    });
  });

  it("raises a DATA error naming the field and transform that failed", () => {
    try {
      mapper.map({ customer_id: 8, email: "a@b", first_name: "", last_name: "", preferences: "{broken", score: 1 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(MappingDataError);
      expect(e).toMatchObject({ category: "DATA", field: "data.preferences", transform: "json_parse", fieldIndex: 2 });
    }
    expect(() => mapper.map({ customer_id: null, email: "a", preferences: null })).toThrow(/context_id is NULL/);
  });

  it("preview reports every failing field of a row, not just the first", () => {
    const p = mapper.preview({ customer_id: null, email: 5 as never, first_name: "A", last_name: "B", preferences: "{", score: 1 });
    expect(p.context).toBeNull();
    expect(p.errors.map((e) => e.field)).toEqual(["context_id", "data.contact.email", "data.preferences"]);
  });

  it("never quotes a secret column a template read in its error text (second pass, finding 4)", () => {
    const m = compileMapping({
      source: { table: "accounts" },
      target: { context_type: "account" },
      fields: [
        { source: "id", target: "context_id" },
        { target: "data.code", transform: [{ name: "template", template: "{api_token}" }, "integer"] },
      ],
    } as never);
    let message = "";
    try {
      m.map({ id: 1, api_token: "tok-SECRET-123" });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/data\.code: integer failed/);
    expect(message).not.toContain("SECRET");
  });
});

describe("a soft-delete column", () => {
  const entry = { source: { table: "t", soft_delete: "deleted_at" }, target: { context_type: "t" }, fields: [{ source: "id", target: "context_id" }, { source: "v", target: "data.v" }] };

  it("marks a row deleted when it is set and not false", async () => {
    const mapper = compileMapping(entry);
    const rows: Record<string, string | boolean | number | null>[] = [{ deleted_at: null }, { deleted_at: "2026-01-01T00:00:00Z" }, { deleted_at: false }, { deleted_at: true }, {}];
    expect(rows.map((r) => mapper.softDeleted({ id: 1, v: 1, ...r }))).toEqual([false, true, false, true, false]);
    // Flags as MySQL decodes them: BOOLEAN as 0/1, BIT(1) as "0"/"1"; and text flags.
    const flags: (number | string)[] = [0, 1, "0", "1", "f", "t", "false", "no", "yes", 2];
    expect(flags.map((f) => mapper.softDeleted({ id: 1, deleted_at: f }))).toEqual([false, true, false, true, false, true, false, false, true, true]);
    expect(compileMapping({ ...entry, source: { table: "t" } }).softDeleted({ id: 1, deleted_at: "x" })).toBe(false);
    const { mapRecord } = await import("../pipeline/records.ts");
    const out = { writes: [], deadLetters: [] } as Parameters<typeof mapRecord>[3];
    mapRecord([mapper], { id: 7, v: 1, deleted_at: "2026-01-01T00:00:00Z" }, { entity: "t", key: ["7"], key_columns: ["id"], position: 1n, cursor: null }, out);
    expect(out.writes[0]).toMatchObject({ context_id: "7", deleted: true, data: null });
  });
});

describe("a soft-deleted row", () => {
  it("becomes a tombstone under its context_id even when its other fields cannot be mapped, in snapshots and streams", async () => {
    const mapper = compileMapping({ source: { table: "t", soft_delete: "gone" }, target: { context_type: "t" }, fields: [{ source: "id", target: "context_id" }, { source: "doc", target: "data.doc", transform: "json_parse" }] });
    const { mapRecord } = await import("../pipeline/records.ts");
    const { mapChange } = await import("../pipeline/stream/map-change.ts");
    const snapshot = { writes: [], deadLetters: [] } as Parameters<typeof mapRecord>[3];
    mapRecord([mapper], { id: 1, doc: "{not json", gone: true }, { entity: "t", key: ["1"], key_columns: ["id"], position: 1n, cursor: null }, snapshot);
    expect(snapshot).toMatchObject({ writes: [{ context_id: "1", deleted: true, data: null }], deadLetters: [] });
    const stream = { writes: [], deadLetters: [] } as Parameters<typeof mapChange>[2];
    const change = { kind: "update", entity: "t", key: ["2"], key_columns: ["id"], row: { id: 2, doc: "{not json", gone: 1 }, before: { id: 1, doc: "{}", gone: 0 }, unchanged: null, order: 5n, cursor: "c" };
    mapChange([mapper], change as unknown as Parameters<typeof mapChange>[1], stream);
    // The key moved: the old id's context is gone too.
    expect(stream.writes.map((w) => [w.context_id, w.deleted])).toEqual([["1", true], ["2", true]]);
    expect(stream.deadLetters).toEqual([]);
  });
});
