import { describe, expect, it } from "vitest";
import { GtidState } from "./gtid.ts";

describe("a server's GTID state", () => {
  it("on MariaDB: the last transaction per domain, whatever came before it in that domain", () => {
    const state = GtidState.parse("0-1-10");
    state.add({ domainId: 0, serverId: 1, seqNo: 11 });
    state.add({ domainId: 2, serverId: 7, seqNo: "18446744073709551615" });
    expect(state.toString()).toBe("0-1-11,2-7-18446744073709551615");
    expect(GtidState.parse("").toString()).toBe(""); // a server that has written no transaction yet
  });

  it("on MySQL: the set of transactions, intervals merged", () => {
    const uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    const state = GtidState.parse(`${uuid}:1-4`);
    state.add(`${uuid}:5`);
    state.add(`${uuid}:7`);
    expect(state.toString()).toBe(`${uuid}:1-5:7`);
  });

  it("refuses what a server does not write, naming the field", () => {
    expect(() => GtidState.parse("0-1", "start.cursor")).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ path: "start.cursor" })] }));
    expect(() => GtidState.parse("not-a-uuid:1-5")).toThrow(/GTID/);
  });
});
