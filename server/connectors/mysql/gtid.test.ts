import { describe, expect, it } from "vitest";
import { parseGtidPosition } from "./gtid.ts";

describe("MariaDB's GTID position", () => {
  it("keeps the last event group per domain, whatever came before it in that domain", () => {
    const state = parseGtidPosition("0-1-10");
    state.add({ domainId: 0, serverId: 1, seqNo: 11 });
    state.add({ domainId: 2, serverId: 7, seqNo: "18446744073709551615" });
    expect(state.toString()).toBe("0-1-11,2-7-18446744073709551615");
    expect(parseGtidPosition("").toString()).toBe(""); // a server that has written no transaction yet
  });

  it("refuses what MariaDB does not write, naming the field", () => {
    expect(() => parseGtidPosition("0-1", "start.cursor")).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ path: "start.cursor" })] }));
    expect(() => parseGtidPosition("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5")).toThrow(/GTID/);
  });
});
