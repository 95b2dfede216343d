import { describe, expect, it } from "vitest";
import { SharedConnection } from "./shared-connection.ts";

const fake = () => {
  const made: { ended: boolean; end(): Promise<void> }[] = [];
  let fail = 0;
  const open = async () => {
    await new Promise((r) => setTimeout(r, 5));
    if (fail > 0) {
      fail--;
      throw new Error("refused");
    }
    const c = { ended: false, end: async () => void (c.ended = true) };
    made.push(c);
    return c;
  };
  return { made, open, failNext: (n: number) => (fail = n) };
};

describe("SharedConnection", () => {
  it("opens once for callers at once", async () => {
    const f = fake();
    const shared = new SharedConnection(f.open);
    const got = await Promise.all([shared.get(), shared.get(), shared.get()]);
    expect(f.made).toHaveLength(1);
    expect(new Set(got).size).toBe(1);
  });

  it("forgets an opening that failed: the next use opens again", async () => {
    const f = fake();
    f.failNext(1);
    const shared = new SharedConnection(f.open);
    await expect(Promise.all([shared.get(), shared.get()])).rejects.toThrow("refused");
    expect(await shared.get()).toBe(f.made[0]);
    expect(f.made).toHaveLength(1);
  });

  it("ends what it opened on close, and opens a new one after", async () => {
    const f = fake();
    const shared = new SharedConnection(f.open);
    const first = await shared.get();
    await shared.close();
    expect(first.ended).toBe(true);
    expect(await shared.get()).not.toBe(first);
    expect(f.made).toHaveLength(2);
  });
});
