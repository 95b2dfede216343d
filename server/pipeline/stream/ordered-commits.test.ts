import { describe, expect, it } from "vitest";
import type { CommitSequence } from "../../store/unit-of-work.ts";
import { footprintOf, OrderedCommits, overlaps } from "./ordered-commits.ts";

const write = (id: string, key = id) => ({ context_type: "t", context_id: id, entity: "e", key: [key] }) as never;
const batch = (ids: string[], more: { truncate?: boolean; letters?: string[] } = {}) =>
  footprintOf({ writes: ids.map((id) => write(id)), truncates: more.truncate ? [{ at: 0, entity: "e", position: 1n, cursor: null }] : [], deadLetters: (more.letters ?? []).map((k) => ({ entity: "e", key: [k] }) as never) });

/** A commit the test settles by hand, recording when it started and with which sequence. */
function manual(log: string[], name: string) {
  let settle!: { ok: () => void; fail: (e: Error) => void; locked: () => void };
  let sequence: CommitSequence | null = null;
  const commit = (s: CommitSequence) => {
    sequence = s;
    log.push(`start ${name}`);
    return new Promise<void>((ok, fail) => (settle = { ok, fail, locked: s.onLocked }));
  };
  return { commit, settle: () => settle, sequence: () => sequence };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe("a stream batch's footprint", () => {
  it("overlaps another that writes a common context, a common source record or dead-letters one of its records", () => {
    expect(overlaps(batch(["1", "2"]), batch(["3"]))).toBe(false);
    expect(overlaps(batch(["1", "2"]), batch(["2"]))).toBe(true);
    expect(overlaps(batch(["1"]), batch([], { letters: ["1"] }))).toBe(true);
    expect(overlaps(batch([]), batch([]))).toBe(false); // a cursor-only batch (a heartbeat)
  });

  it("overlaps everything when either holds a TRUNCATE", () => {
    expect(overlaps(batch([], { truncate: true }), batch(["9"]))).toBe(true);
    expect(overlaps(batch(["9"]), batch([], { truncate: true }))).toBe(true);
  });
});

describe("OrderedCommits", () => {
  it("starts a disjoint batch once the one before holds its lock, hands it that batch, and returns when that one is done", async () => {
    const commits = new OrderedCommits();
    const log: string[] = [];
    const a = manual(log, "a");
    const b = manual(log, "b");
    await commits.submit(batch(["1"]), a.commit);
    let returned = false;
    const submitted = commits.submit(batch(["2"]), b.commit).then(() => (returned = true));
    await tick();
    expect(log).toEqual(["start a"]); // a has no session and lock yet
    a.settle().locked();
    await tick();
    expect(log).toEqual(["start a", "start b"]);
    expect(b.sequence()!.previous!.lock).toBe(a.sequence()!.lock);
    expect(returned).toBe(false);
    a.settle().ok();
    await submitted;
    b.settle().ok();
    await commits.drain();
  });

  it("starts an overlapping batch only after the one before committed", async () => {
    const commits = new OrderedCommits();
    const log: string[] = [];
    const a = manual(log, "a");
    const b = manual(log, "b");
    await commits.submit(batch(["1"]), a.commit);
    const submitted = commits.submit(batch(["1"]), b.commit);
    a.settle().locked();
    await tick();
    expect(log).toEqual(["start a"]);
    a.settle().ok();
    await submitted;
    expect(log).toEqual(["start a", "start b"]);
    b.settle().ok();
    await commits.drain();
  });

  it("never lets a commit that failed before taking its lock hold the next back, and reports the failure", async () => {
    const commits = new OrderedCommits();
    const log: string[] = [];
    const a = manual(log, "a");
    const b = manual(log, "b");
    await commits.submit(batch(["1"]), a.commit);
    const submitted = commits.submit(batch(["2"]), b.commit);
    a.settle().fail(new Error("no session"));
    await expect(submitted).rejects.toThrow("no session");
    expect(log).toEqual(["start a", "start b"]); // b started, and fails at its turn (it sees a's outcome)
    b.settle().fail(new Error("the batch before failed"));
    await expect(commits.drain()).rejects.toThrow("the batch before failed");
  });
});
