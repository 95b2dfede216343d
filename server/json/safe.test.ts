import { describe, expect, it } from "vitest";
import { clientAddress, trustedProxiesFrom } from "../http/client-address.ts";
import { controlCharacterPaths, holdsNulEscape, inspectJson, neutralizeUnstorableEscapes, own } from "./safe.ts";

describe("inspectJson", () => {
  it("names the path of the first prototype key, at any depth and in arrays", () => {
    expect(inspectJson(JSON.parse('{"a":[{"b":{"__proto__":{"x":1}}}]}'))).toEqual({ path: "a[0].b.__proto__", message: expect.stringContaining("prototype") });
    expect(inspectJson({ constructor: { prototype: 1 } })?.path).toBe("constructor");
    expect(inspectJson({ ok: { nested: ["prototype"] } })).toBeNull(); // a value, not a key
  });
  it("bounds depth, size and strings, and refuses control characters other than tab and line breaks", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = { d: deep };
    expect(inspectJson(deep)?.message).toMatch(/deeper than 32/);
    expect(inspectJson({ a: Array.from({ length: 100_001 }, () => 0) })?.message).toMatch(/more than 100000/);
    expect(inspectJson({ s: "x".repeat(2_000_000) })?.message).toMatch(/longer than/);
    expect(inspectJson({ s: "a\u0000b" })).toEqual({ path: "s", message: expect.stringContaining("control characters") });
    expect(inspectJson({ s: "a\u001b[31m" })?.path).toBe("s");
    expect(inspectJson({ s: "line\nbreak\ttab" })).toBeNull();
  });
});

describe("own", () => {
  it("reads own properties only", () => {
    expect(own({}, "constructor")).toBeUndefined();
    expect(own({}, "__proto__")).toBeUndefined();
    expect(own(JSON.parse('{"__proto__": 1}'), "__proto__")).toBe(1);
    expect(own(process.env, "__proto__")).toBeUndefined();
  });
});

describe("controlCharacterPaths", () => {
  it("allows line breaks only where a value is multi-line", () => {
    const config = { connection: { database: "a\nb", ssl_root_cert: "-----BEGIN\nx" } };
    expect(controlCharacterPaths(config, new Set(["connection.ssl_root_cert"]))).toEqual([["connection", "database"]]);
  });
});

describe("clientAddress", () => {
  it("is the socket's address unless that is a trusted proxy", () => {
    expect(clientAddress("203.0.113.9", "1.2.3.4", null)).toBe("203.0.113.9");
    expect(clientAddress("::ffff:203.0.113.9", "1.2.3.4", null)).toBe("203.0.113.9");
    const proxies = trustedProxiesFrom("10.0.0.0/8, 127.0.0.1");
    // The right-most address that is not a trusted proxy: entries further left are the client's to write.
    expect(clientAddress("127.0.0.1", "6.6.6.6, 198.51.100.7, 10.1.2.3", proxies)).toBe("198.51.100.7");
    expect(clientAddress("127.0.0.1", undefined, proxies)).toBe("127.0.0.1");
    expect(clientAddress("198.51.100.1", "6.6.6.6", proxies)).toBe("198.51.100.1");
    expect(() => trustedProxiesFrom("not-an-ip")).toThrow(/ECM_TRUSTED_PROXIES/);
  });
});

describe("U+0000 in JSON text", () => {
  it("is told apart from the six characters \\u0000 of a string (an escaped backslash before them)", () => {
    expect(holdsNulEscape(JSON.stringify({ a: "x\u0000y" }))).toBe(true);
    expect(holdsNulEscape(JSON.stringify({ a: "see \\u0000" }))).toBe(false); // text, as jsonb stores it
    expect(holdsNulEscape(JSON.stringify({ a: "\\\u0000" }))).toBe(true); // a backslash, then U+0000
    expect(holdsNulEscape(JSON.stringify({ a: "plain" }))).toBe(false);
    const neutral = neutralizeUnstorableEscapes(JSON.stringify({ a: "x\u0000y", b: "see \\u0000", c: "\\\u0000" }));
    expect(holdsNulEscape(neutral)).toBe(false);
    expect(JSON.parse(neutral)).toEqual({ a: "x\\u0000y", b: "see \\u0000", c: "\\\\u0000" });
  });

  it("a lone surrogate is turned into the text of its escape too (jsonb refuses it), a pair is left as it is", () => {
    const neutral = neutralizeUnstorableEscapes(JSON.stringify({ a: "half \ud800", b: ["\udc00"], c: "😀", d: "see \\ud800" }));
    expect(JSON.parse(neutral)).toEqual({ a: "half \\ud800", b: ["\\udc00"], c: "😀", d: "see \\ud800" });
  });
});
