import { describe, expect, it } from "vitest";
import { PG_CURSOR } from "../../connectors/postgresql/lsn.ts";
import type { RecordWrite } from "../../store/unit-of-work.ts";
import { Batcher } from "./batcher.ts";

const write = (id: string): RecordWrite => ({ context_type: "t", context_id: id, data: {}, entity: "e", position: 1n, cursor: null, deleted: false, key: [id], key_columns: ["id"], payload: {} });
const mapped = (...ids: string[]) => ({ writes: ids.map(write), deadLetters: [] });

function clock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe("the stream's batching rules", () => {
  it("writes a full batch inside a transaction, but moves the cursor only with the transaction's last part", () => {
    const b = new Batcher(2, PG_CURSOR, "pg_lsn:0/10");
    expect(b.add(mapped("1"), true)).toBe(false);
    expect(b.add(mapped("2"), true)).toBe(true); // full: written now, mid-transaction
    const part = b.take()!;
    expect(part.writes).toHaveLength(2);
    expect(part.target).toBeNull(); // the transaction has not ended: the cursor stays
    b.add(mapped("3"), true);
    expect(b.commit("pg_lsn:0/20", new Date(), true)).toBe(false); // more arrived: keep filling
    expect(b.take()).toMatchObject({ writes: [{ context_id: "3" }], target: { cursor: "pg_lsn:0/20" } });
  });

  it("writes when the stream has caught up (a commit with nothing more received)", () => {
    const b = new Batcher(1000, PG_CURSOR, null);
    b.add(mapped("1"), true);
    expect(b.commit("pg_lsn:0/20", new Date(), false)).toBe(true);
  });

  it("writes a trickle at the latest when its oldest change waited the maximum", () => {
    const c = clock();
    const b = new Batcher(1000, PG_CURSOR, null, c.now, 25);
    b.add(mapped("1"), true);
    expect(b.commit("pg_lsn:0/20", new Date(), true)).toBe(false);
    c.advance(25);
    b.add(mapped("2"), true);
    expect(b.commit("pg_lsn:0/30", new Date(), true)).toBe(true);
  });

  it("never moves the cursor backwards, and not again to where it already is", () => {
    const b = new Batcher(1000, PG_CURSOR, "pg_lsn:0/50");
    b.commit("pg_lsn:0/40", null, false); // a heartbeat behind the durable cursor
    expect(b.take()).toBeNull();
    b.commit("pg_lsn:0/60", new Date(), false);
    expect(b.take()!.target!.cursor).toBe("pg_lsn:0/60");
    expect(b.take()).toBeNull(); // already taken: a second write would change nothing
    expect(b.empty).toBe(true);
  });

  it("lets a heartbeat move the cursor but never ask for a write by itself", () => {
    const b = new Batcher(1000, PG_CURSOR, "pg_lsn:0/10");
    expect(b.commit("pg_lsn:0/90", null, false)).toBe(false);
    expect(b.empty).toBe(false); // the control tick writes it
    expect(b.take()).toMatchObject({ writes: [], target: { cursor: "pg_lsn:0/90", committed_at: null } });
  });

  it("places a TRUNCATE where it happened among the writes, and never offers COPY around it", () => {
    const b = new Batcher(1000, PG_CURSOR, null);
    b.add(mapped("1"), true);
    b.truncate("e", 9n, "pg_lsn:0/9");
    b.add(mapped("2"), true);
    expect(b.take()).toMatchObject({ writes: [{ context_id: "1" }, { context_id: "2" }], truncates: [{ at: 1, entity: "e", position: 9n }], allInserts: false });
  });

  it("offers COPY only for batches made of inserts alone", () => {
    const b = new Batcher(1000, PG_CURSOR, null);
    b.add(mapped("1"), true);
    expect(b.take()!.allInserts).toBe(true);
    b.add(mapped("2"), true);
    b.add(mapped("3"), false);
    expect(b.take()!.allInserts).toBe(false);
  });
});
