// One-dimensional arrays as statement parameters in PostgreSQL's binary format (array_recv):
// node-postgres sends a Buffer parameter as binary, and the statement's cast (`$1::text[]`) tells
// the server how to read it. Each element is its UTF-8 bytes behind a length, so nothing is
// escaped by the client or unescaped by the server: a batch of rows costs the store its values'
// bytes, and a jsonb element only its own parse (measured on 2 cores, 1000-row batches: the
// store's backend spent 7–8 µs a row reading them against 10–11 µs for the same rows as one
// jsonb document; docs/performance.md).

/** Type OIDs of the arrays' elements (pg_type). */
const OID = { text: 25, jsonb: 3802, bool: 16 } as const;
/** ndim, has-nulls flag, element type, then one dimension: its length and lower bound. */
const HEADER_BYTES = 20;
/** jsonb's binary input: a format version byte, then the JSON text. */
const JSONB_VERSION = 1;

/**
 * Arrays whose strings could take more than this are measured exactly (Buffer.byteLength); smaller
 * ones get 3 bytes of UTF-8 per UTF-16 unit, an upper bound that costs no pass over the text but
 * would hold up to three times a large batch's bytes.
 */
const BOUNDED_BYTES = 4 << 20;

function header(buf: Buffer, oid: number, length: number, nulls: boolean): void {
  buf.writeInt32BE(1, 0);
  buf.writeInt32BE(nulls ? 1 : 0, 4);
  buf.writeUInt32BE(oid, 8);
  buf.writeInt32BE(length, 12);
  buf.writeInt32BE(1, 16);
}

/** An empty array: no dimensions at all (what array_send writes for one). */
function empty(oid: number): Buffer {
  const buf = Buffer.alloc(12);
  buf.writeUInt32BE(oid, 8);
  return buf;
}

function strings(oid: number, values: readonly (string | null)[], prefix: number | null): Buffer {
  if (!values.length) return empty(oid);
  let units = 0;
  for (const v of values) if (v !== null) units += v.length;
  const exact = 3 * units > BOUNDED_BYTES;
  let room = HEADER_BYTES;
  for (const v of values) room += 4 + (v === null ? 0 : (prefix === null ? 0 : 1) + (exact ? Buffer.byteLength(v) : 3 * v.length));
  const buf = Buffer.allocUnsafe(room);
  let at = HEADER_BYTES;
  let nulls = false;
  for (const v of values) {
    if (v === null) {
      buf.writeInt32BE(-1, at);
      at += 4;
      nulls = true;
      continue;
    }
    const start = at + 4;
    let end = start;
    if (prefix !== null) buf[end++] = prefix;
    end += buf.write(v, end);
    buf.writeInt32BE(end - start, at);
    at = end;
  }
  header(buf, oid, values.length, nulls);
  return buf.subarray(0, at);
}

/** A `text[]` parameter (cast it: `$1::text[]`). A lone surrogate becomes U+FFFD, as in any UTF-8 encoding. */
export const textArray = (values: readonly (string | null)[]): Buffer => strings(OID.text, values, null);

/** A `jsonb[]` parameter of JSON texts (cast it: `$1::jsonb[]`); the server parses each as jsonb input. */
export const jsonbArray = (values: readonly (string | null)[]): Buffer => strings(OID.jsonb, values, JSONB_VERSION);

/** A `boolean[]` parameter (cast it: `$1::boolean[]`). */
export function boolArray(values: readonly boolean[]): Buffer {
  if (!values.length) return empty(OID.bool);
  const buf = Buffer.allocUnsafe(HEADER_BYTES + 5 * values.length);
  let at = HEADER_BYTES;
  for (const v of values) {
    buf.writeInt32BE(1, at);
    buf[at + 4] = v ? 1 : 0;
    at += 5;
  }
  header(buf, OID.bool, values.length, false);
  return buf;
}
