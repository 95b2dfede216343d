import { describe, expect, it } from "vitest";
import { bigint, bits, datetime, decoderFor, float32, setMembers, timestamp, type MysqlColumn } from "./values.ts";
import { rowDecoder } from "./snapshot.ts";
import type { DescribedEntity } from "./catalog.ts";

const col = (dataType: string, over: Partial<MysqlColumn> = {}): MysqlColumn => ({ name: "c", dataType, columnType: dataType, json: false, bits: 1, ...over });

describe("MySQL values, the snapshot's text and the binlog's decoding alike", () => {
  it("keeps BIGINT exact: numbers while safe, decimal strings beyond (signed and unsigned)", () => {
    expect(bigint("9007199254740991")).toBe(9007199254740991);
    expect(bigint("9007199254740993")).toBe("9007199254740993");
    expect(bigint("18446744073709551615")).toBe("18446744073709551615");
    const d = decoderFor(col("bigint"));
    expect(d.fromBinlog("18446744073709551615")).toBe(d.fromText(Buffer.from("18446744073709551615")));
    expect(d.fromBinlog(42)).toBe(42);
  });

  it("gives FLOAT its shortest single-precision decimal either way", () => {
    expect(float32(3.141590118408203)).toBe(3.14159);
    const d = decoderFor(col("float"));
    expect(d.fromBinlog(0.10000000149011612)).toBe(d.fromText(Buffer.from("0.1")));
  });

  it("writes temporal values without shifting them, TIMESTAMP in UTC, zero dates as the server has them", () => {
    expect(datetime("2024-01-02 03:04:05.123456")).toBe("2024-01-02T03:04:05.123456");
    expect(timestamp("2024-01-02 03:04:05")).toBe("2024-01-02T03:04:05Z");
    expect(decoderFor(col("datetime")).fromBinlog("0000-00-00 00:00:00")).toBe("0000-00-00T00:00:00");
    expect(decoderFor(col("time")).fromBinlog("-838:59:59.000000")).toBe("-838:59:59.000000");
  });

  it("reads YEAR 0000 as 0 (the binlog reader's 1900)", () => {
    const d = decoderFor(col("year"));
    expect(d.fromBinlog(1900)).toBe(0);
    expect(d.fromText(Buffer.from("0000"))).toBe(0);
    expect(d.fromBinlog(2155)).toBe(2155);
  });

  it("writes BIT(n) as n binary digits from bytes or a number", () => {
    expect(bits(Buffer.from([0x02, 0x01]), 10)).toBe("1000000001");
    const d = decoderFor(col("bit", { bits: 3 }));
    expect(d.fromBinlog(Buffer.from([5]))).toBe("101");
    expect(d.fromText(Buffer.from([5]))).toBe("101");
  });

  it("gives SET its members, binary columns base64, JSON parsed", () => {
    expect(setMembers("")).toEqual([]);
    expect(decoderFor(col("set")).fromBinlog("x,z")).toEqual(["x", "z"]);
    expect(decoderFor(col("blob")).fromBinlog(Buffer.from([0, 255, 16]))).toBe("AP8Q");
    expect(decoderFor(col("longtext", { json: true })).fromBinlog('{"a":[1]}')).toEqual({ a: [1] });
    expect(decoderFor(col("json", { json: true })).fromBinlog({ a: 1 })).toEqual({ a: 1 });
  });

  it("gives each column the kind the mapping's transforms see", () => {
    expect(["int", "bigint", "decimal", "double", "year"].map((t) => decoderFor(col(t)).kind)).toEqual(["number", "number", "number", "number", "number"]);
    expect(["date", "datetime", "timestamp"].map((t) => decoderFor(col(t)).kind)).toEqual(["time", "time", "time"]);
    expect(decoderFor(col("varbinary")).kind).toBe("bytes");
  });
});

describe("the zero TIMESTAMP", () => {
  it("reads the binlog's epoch as the zero value the snapshot gives", () => {
    const d = decoderFor(col("timestamp"));
    expect(d.fromBinlog("1970-01-01 00:00:00")).toBe(d.fromText(Buffer.from("0000-00-00 00:00:00")));
    expect(d.fromBinlog("1970-01-01 00:00:00.000000")).toBe("0000-00-00T00:00:00.000000Z");
    expect(d.fromBinlog("1970-01-01 00:00:01")).toBe("1970-01-01T00:00:01Z");
  });
});

describe("MySQL 8 and MariaDB differences", () => {
  it("tells the flavour and version apart (each has its own minimum and privilege names)", async () => {
    const { serverFlavour } = await import("./health.ts");
    expect(serverFlavour("10.11.6-MariaDB-0+deb12u1")).toEqual({ mariadb: true, major: 10, minor: 11 });
    expect(serverFlavour("8.4.3")).toEqual({ mariadb: false, major: 8, minor: 4 });
    expect(serverFlavour("11.4.2-MariaDB")).toEqual({ mariadb: true, major: 11, minor: 4 });
  });
});

describe("rowDecoder (rows keyed by the table's column names)", () => {
  const entity = (names: string[]) => {
    const mysqlColumns = names.map((name) => ({ name, dataType: "int", columnType: "int(11)", json: false, bits: 0 }));
    return { name: "t", columns: mysqlColumns.map((c) => ({ name: c.name })), decoders: mysqlColumns.map(decoderFor), mysqlColumns } as unknown as DescribedEntity;
  };

  it("keeps every column an own property, a column called __proto__ or constructor included, and never sets a row's prototype", () => {
    const row = rowDecoder(entity(["__proto__", "constructor", "id"]))(["1", null, "3"]);
    expect(Object.getPrototypeOf(row)).toBeNull();
    expect(Object.entries(row)).toEqual([["__proto__", 1], ["constructor", null], ["id", 3]]);
  });

  it("makes plain rows where no column is called __proto__, each column its own property (null too)", () => {
    const row = rowDecoder(entity(["id", "toString", "hasOwnProperty"]))(["7", null, "9"]);
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
    expect(Object.entries(row)).toEqual([["id", 7], ["toString", null], ["hasOwnProperty", 9]]);
    expect(row.toString).toBeNull();
  });
});
