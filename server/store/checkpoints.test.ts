import { describe, expect, it } from "vitest";
import { moveFrontier, type ChunkSpan } from "./checkpoints.ts";

const span = (after: string | null, last: string, rows = 10): ChunkSpan => ({ after: after === null ? null : [after], last: [last], rows });
const start = { last_key: null, rows_done: 0, ahead: [] };

describe("moveFrontier (chunks committing out of order)", () => {
  it("moves over a chunk that starts where the checkpoint ends", () => {
    expect(moveFrontier(start, span(null, "10"))).toEqual({ last_key: ["10"], rows_done: 10, ahead: [], moved: { rows: 10, written: 0, dead: 0 } });
  });

  it("keeps a chunk committed before the one ahead of it waiting, and moves over both once the gap commits", () => {
    const early = moveFrontier(start, { ...span("10", "20"), written: 9, dead: 1 });
    expect(early).toEqual({ last_key: null, rows_done: 0, ahead: [{ ...span("10", "20"), written: 9, dead: 1 }], moved: { rows: 0, written: 0, dead: 0 } });
    const next = moveFrontier(early, span("20", "30", 5));
    expect(next).toMatchObject({ last_key: null, rows_done: 0 });
    // Each chunk is counted once, when the checkpoint moves over it.
    expect(moveFrontier(next, { ...span(null, "10"), written: 10 })).toEqual({ last_key: ["30"], rows_done: 25, ahead: [], moved: { rows: 25, written: 19, dead: 1 } });
  });

  it("compares composite keys element by element", () => {
    const at = { last_key: ["a", "1"], rows_done: 3, ahead: [] };
    expect(moveFrontier(at, { after: ["a", "10"], last: ["b", "2"], rows: 4 }).last_key).toEqual(["a", "1"]);
    expect(moveFrontier(at, { after: ["a", "1"], last: ["b", "2"], rows: 4 })).toMatchObject({ last_key: ["b", "2"], rows_done: 7, ahead: [] });
  });

  it("bounds the spans a resumed pass left behind", () => {
    let at: Parameters<typeof moveFrontier>[0] = { last_key: ["0"], rows_done: 0, ahead: [] };
    for (let i = 1; i <= 100; i++) at = moveFrontier(at, span(`x${i}`, `y${i}`));
    expect(at.ahead).toHaveLength(64);
    expect(at.ahead.at(-1)).toEqual(span("x100", "y100"));
    expect(at.last_key).toEqual(["0"]);
  });
});
