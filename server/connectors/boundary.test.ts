import { describe, expect, it } from "vitest";
import { classify } from "../errors/classify.ts";
import { originOf, withOrigin } from "../errors/origin.ts";
import { sourceBoundary } from "./boundary.ts";
import type { ChangeStream, ECMConnector, SourceChange } from "./types.ts";

const pgError = (code: string) => Object.assign(new Error(`pg ${code}`), { code });

class FailingStream implements ChangeStream {
  async *[Symbol.asyncIterator](): AsyncIterator<SourceChange[]> {
    yield [{ kind: "commit", cursor: "x:1", committed_at: null, more: false }];
    throw pgError("08006");
  }
  ack = async () => {
    throw pgError("XX000");
  };
  ping = async () => {};
  close = async () => {};
}

// Only what the test calls is implemented.
const connector = {
  getCapabilities: () => ({ connector_type: "fake" }),
  listEntities: async () => {
    throw pgError("42501");
  },
  rowsByKey: async () => new Map([["[\"1\"]", { id: 1 }]]),
  readSnapshotChunks: async function* () {
    yield { records: [], keys: [], resume_after: [] };
    throw pgError("57P01");
  },
  openChanges: async () => new FailingStream(),
  describeEntity: () => {
    throw pgError("XX000"); // synchronous throw
  },
} as unknown as ECMConnector;

describe("the source boundary: what a connector throws is marked as the source's", () => {
  const guarded = sourceBoundary(connector);

  it("marks rejected promises and synchronous throws, and keeps the original error and its code", async () => {
    const e = await guarded.listEntities().catch((x: unknown) => x);
    expect(e).toMatchObject({ code: "42501" });
    expect(classify(e)).toMatchObject({ category: "CONFIGURATION", origin: "source" });
    expect(() => guarded.describeEntity("t")).toThrow(expect.objectContaining({ code: "XX000" }));
  });

  it("marks failures of snapshot iterations and of an opened change stream, its methods included", async () => {
    const chunks = guarded.readSnapshotChunks!("t", {})[Symbol.asyncIterator]();
    await chunks.next();
    expect(originOf(await chunks.next().catch((x: unknown) => x))).toBe("source");
    const stream = await guarded.openChanges!(["t"], null);
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    const e = await it.next().catch((x: unknown) => x);
    expect(classify(e)).toMatchObject({ category: "TRANSIENT", origin: "source", code: "08006" });
    expect(originOf(await stream.ack("x:1").catch((x: unknown) => x))).toBe("source");
  });

  it("passes data through untouched (a Map stays a Map)", async () => {
    const rows = await guarded.rowsByKey!("t", [["1"]]);
    expect(rows.get('["1"]')).toEqual({ id: 1 });
  });

  it("leaves an origin set closer to the error alone, and the store's codes mean the store's", () => {
    const store = withOrigin("store", pgError("23505"));
    expect(originOf(withOrigin("source", store))).toBe("store");
    expect(classify(store)).toMatchObject({ category: "FATAL", origin: "store" }); // not a record's DATA error
    expect(classify(withOrigin("source", pgError("23505")))).toMatchObject({ category: "DATA", origin: "source" });
    expect(classify(withOrigin("store", pgError("XX000")))).toMatchObject({ category: "FATAL", origin: "store" });
  });

  it("lets the connector type read its own codes first: another driver's codes are never read as SQLSTATEs", async () => {
    // A driver whose codes are its own (mysql2's style): the type's classifier decides.
    const mysqlish = (code: string) => Object.assign(new Error(`driver ${code}`), { code });
    const classifier = (error: unknown) => {
      const code = (error as { code?: string }).code;
      if (code === "PROTOCOL_CONNECTION_LOST") return { category: "TRANSIENT" as const, code, reason: "connection lost" };
      if (code === "ER_ACCESS_DENIED_ERROR") return { category: "CONFIGURATION" as const, code, reason: "access denied" };
      return null;
    };
    const typed = sourceBoundary({ ...connector, listEntities: async () => Promise.reject(mysqlish("PROTOCOL_CONNECTION_LOST")), rowsByKey: async () => Promise.reject(mysqlish("ER_ACCESS_DENIED_ERROR")) } as unknown as ECMConnector, classifier);
    expect(classify(await typed.listEntities().catch((x: unknown) => x))).toMatchObject({ category: "TRANSIENT", origin: "source", code: "PROTOCOL_CONNECTION_LOST" });
    expect(classify(await typed.rowsByKey!("t", []).catch((x: unknown) => x))).toMatchObject({ category: "CONFIGURATION", origin: "source" });
    // What the classifier does not know falls back to the generic rules (here: a network error).
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    expect(classify(withOrigin("source", reset, classifier))).toMatchObject({ category: "TRANSIENT", reason: "network error" });
    // The store's errors never go through a source's classifier.
    expect(classify(withOrigin("store", mysqlish("ER_ACCESS_DENIED_ERROR")))).toMatchObject({ category: "FATAL", origin: "store" });
  });
});
