import { describe, expect, it } from "vitest";
import { prefetch } from "./prefetch.ts";

describe("prefetch", () => {
  it("keeps a page that fails before anyone awaits it from being reported unhandled, and still gives its error to whoever awaits it", async () => {
    const unhandled: unknown[] = [];
    const listener = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", listener);
    try {
      const page = prefetch(Promise.reject(new Error("Connection terminated unexpectedly")));
      await new Promise((r) => setTimeout(r, 20)); // the reader is suspended at a yield meanwhile
      expect(unhandled).toEqual([]);
      await expect(page).rejects.toThrow("Connection terminated unexpectedly");
    } finally {
      process.off("unhandledRejection", listener);
    }
  });
});
