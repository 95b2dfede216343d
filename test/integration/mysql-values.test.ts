// A MySQL table is read with mysql2 handing values over as strings and exact numbers, except a
// table with a geometry (or vector) column, read as the server's bytes (mysql2 would decode those
// into objects). Both paths must give the same JSON for every column: the same values are read from
// a table of each kind, and geometry comes out as the server's own bytes.
import { beforeAll, describe, expect, it } from "vitest";
import { createToken } from "../../server/auth/tokens.ts";
import { adminToken, api } from "../support/http.ts";
import { resetMetadata } from "../support/db.ts";
import { createMysqlDatabase, type MysqlSource } from "../support/mysql-db.ts";

const COLUMNS = [
  "id int PRIMARY KEY",
  "c_int int",
  "c_uint int unsigned",
  "c_bigint bigint unsigned",
  "c_decimal decimal(65,30)",
  "c_float float",
  "c_double double",
  "c_year year",
  "c_datetime datetime(6)",
  "c_zero_date date",
  "c_time time(6)",
  "c_json json",
  "c_text varchar(40)",
  "c_bit bit(10)",
  "c_blob blob",
  "c_set set('x','y')",
];
const VALUES = `(1, -2147483648, 4294967295, 18446744073709551615, '-1.000000000000000000000000000001', 3.14159, 2.2250738585072014e-308, 0,
  '2024-01-02 03:04:05.000001', '0000-00-00', '-838:59:59.000000', '{"a": [1, 2.5e300]}', '𝄞 \\\\ tab\\there', b'1000000001', x'00ff', 'y,x')`;

let src: MysqlSource;
let sourceId: string;
let editor: string;

const preview = async (entity: string) => {
  const r = await api("POST", `/sources/${sourceId}/preview`, { token: editor, body: { entity, limit: 5, mappings: [{ source: { table: entity }, target: { context_type: entity }, fields: [{ source: "id", target: "context_id" }] }] } });
  expect(r.status, r.text).toBe(200);
  return r.body.records[0].source as Record<string, unknown>;
};

beforeAll(async () => {
  await resetMetadata();
  src = await createMysqlDatabase("ecm_mysql_values", undefined, [
    `CREATE TABLE plain (${COLUMNS.join(", ")})`,
    `CREATE TABLE shaped (${COLUMNS.join(", ")}, p point)`,
    `INSERT INTO plain VALUES ${VALUES}`,
    `INSERT INTO shaped SELECT *, POINT(1.5, -2) FROM plain`,
  ]);
  editor = (await createToken({ name: "e", role: "editor" }, { kind: "token", id: "env", name: "ECM_API_TOKEN", role: "admin" })).token;
  const created = await api("POST", "/sources", { token: adminToken(), body: { name: "mysql-values", config: src.config } });
  expect(created.status, created.text).toBe(201);
  sourceId = created.body.id;
}, 60_000);

describe("MySQL values read as strings and numbers, or as bytes", () => {
  it("gives the same JSON either way, every value exact", async () => {
    const plain = await preview("plain");
    const { p, ...shaped } = await preview("shaped");
    expect(shaped).toEqual(plain);
    expect(plain).toMatchObject({
      c_int: -2147483648,
      c_uint: 4294967295,
      c_bigint: "18446744073709551615",
      c_decimal: "-1.000000000000000000000000000001",
      c_float: 3.14159,
      c_double: 2.2250738585072014e-308,
      c_year: 0,
      c_datetime: "2024-01-02T03:04:05.000001",
      c_zero_date: "0000-00-00",
      c_time: "-838:59:59.000000",
      c_json: { a: [1, 2.5e300] },
      c_text: "𝄞 \\ tab\there",
      c_bit: "1000000001",
      c_blob: "AP8=",
      c_set: ["x", "y"],
    });
    // Geometry: the server's own bytes (SRID, then WKB), as the binlog has them.
    const [row] = await src.exec("SELECT TO_BASE64(p) AS b FROM shaped");
    expect(p).toBe(String(row!.b).replace(/\s/g, ""));
  });
});
