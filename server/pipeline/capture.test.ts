// judgeCapture: whether the source's capture is still the one the store's positions came from.
import { describe, expect, it } from "vitest";
import type { CaptureStatus } from "../connectors/types.ts";
import { PG_CURSOR } from "../connectors/postgresql/lsn.ts";
import { judgeCapture } from "./capture.ts";

const status = (over: Partial<CaptureStatus> = {}): CaptureStatus => ({
  name: "replication slot s",
  server: "pg:1/5",
  exists: true,
  active: false,
  lost: false,
  state: "reserved",
  confirmed_cursor: "pg_lsn:0/100",
  current_cursor: "pg_lsn:0/900",
  retained_bytes: 0,
  lag_bytes: 0,
  ...over,
});
const recorded = (over: Partial<{ cursor: string | null; generation: number; capture_server: string | null; capture_start: string | null; capture_broken: string | null }> = {}) => ({
  cursor: "pg_lsn:0/200",
  generation: 1,
  capture_server: "pg:1/5",
  capture_start: "pg_lsn:0/80",
  capture_broken: null,
  ...over,
});
const judge = (s: CaptureStatus, r: ReturnType<typeof recorded>) => judgeCapture(s, r, PG_CURSOR);

describe("judgeCapture", () => {
  it("keeps the capture this generation made, behind or at the store's cursor", () => {
    expect(judge(status(), recorded())).toEqual({ kind: "ok" });
    expect(judge(status({ confirmed_cursor: "pg_lsn:0/200" }), recorded())).toEqual({ kind: "ok" });
    // Nothing streamed yet: measured against where the capture started.
    expect(judge(status({ confirmed_cursor: "pg_lsn:0/80" }), recorded({ cursor: null }))).toEqual({ kind: "ok" });
  });

  it("calls a dropped capture broken, naming the cursor it cannot read from", () => {
    const v = judge(status({ exists: false, confirmed_cursor: null }), recorded());
    expect(v).toEqual({ kind: "broken", reason: expect.stringMatching(/^changes since pg_lsn:0\/200 cannot be read: the change capture \(replication slot s\) no longer exists.*full re-snapshot recovers/) });
  });

  it("calls a lost capture broken", () => {
    expect(judge(status({ lost: true }), recorded())).toMatchObject({ kind: "broken", reason: expect.stringMatching(/is lost/) });
  });

  it("calls a capture that starts after the store's cursor replaced (dropped and made again by someone else)", () => {
    expect(judge(status({ confirmed_cursor: "pg_lsn:0/300" }), recorded())).toMatchObject({ kind: "broken", reason: expect.stringMatching(/was replaced: it starts at pg_lsn:0\/300/) });
  });

  it("calls another server or database broken, whatever its positions say", () => {
    expect(judge(status({ server: "pg:2/5", confirmed_cursor: "pg_lsn:0/10" }), recorded())).toMatchObject({ kind: "broken", reason: expect.stringMatching(/another server or database \(pg:2\/5; the capture was made on pg:1\/5\)/) });
  });

  it("stays broken until a new generation, whatever the source shows meanwhile", () => {
    expect(judge(status(), recorded({ capture_broken: "changes since X cannot be read" }))).toEqual({ kind: "broken", reason: "changes since X cannot be read" });
  });

  it("adopts a capture made before generations were recorded, and tells a first capture from a dropped one", () => {
    expect(judge(status(), recorded({ generation: 0, capture_server: null, capture_start: null }))).toEqual({ kind: "adopt" });
    // After a spell without capture (generation > 0), a capture left on the source is stale: not adopted.
    expect(judge(status(), recorded({ generation: 3, capture_server: null, capture_start: null, cursor: null }))).toEqual({ kind: "none" });
    expect(judge(status({ exists: false }), recorded({ generation: 0, capture_server: null, capture_start: null, cursor: null }))).toEqual({ kind: "none" });
    expect(judge(status({ exists: false }), recorded({ generation: 0, capture_server: null, capture_start: null }))).toMatchObject({ kind: "broken" });
  });

  it("calls a log purged past the store's cursor, or one that ends before it (a reset, another server), broken: a log kept for no one (oldest_cursor)", () => {
    const purged = judge(status({ confirmed_cursor: null, oldest_cursor: "pg_lsn:0/300" }), recorded());
    expect(purged).toEqual({ kind: "broken", reason: expect.stringMatching(/no longer holds its log from pg_lsn:0\/200.*purged/) });
    expect(judge(status({ confirmed_cursor: null, oldest_cursor: "pg_lsn:0/150" }), recorded())).toEqual({ kind: "ok" });
    const reset = judge(status({ confirmed_cursor: null, current_cursor: "pg_lsn:0/120" }), recorded());
    expect(reset).toEqual({ kind: "broken", reason: expect.stringMatching(/ends at pg_lsn:0\/120, before the store's pg_lsn:0\/200/) });
  });
});
