import { describe, expect, it } from "vitest";
import { ago, bytes } from "./format.ts";

describe("display formats", () => {
  it("shows sizes in binary units and a dash for unknown", () => {
    expect(bytes(null)).toBe("—");
    expect(bytes(512)).toBe("512 B");
    expect(bytes(1536)).toBe("1.5 KiB");
    expect(bytes(5 * 1024 ** 2)).toBe("5.0 MiB");
    expect(bytes(3 * 1024 ** 3)).toBe("3.00 GiB");
  });
  it("shows ages relative to now", () => {
    const now = Date.parse("2026-11-26T12:00:00Z");
    expect(ago(null, now)).toBe("—");
    expect(ago("2026-11-26T11:59:48Z", now)).toBe("12 s ago");
    expect(ago("2026-11-26T11:56:00Z", now)).toBe("4 min ago");
    expect(ago("2026-11-26T09:00:00Z", now)).toBe("3 h ago");
  });
});
