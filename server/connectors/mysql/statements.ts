// What the change stream must know of a statement logged as a query event: whether it opens, ends
// or continues a transaction, and which table a TRUNCATE empties. Read by a linear tokenizer
// (comments and whitespace skipped, identifiers quoted or not, in any script), never by a regular
// expression that could backtrack on a hostile statement: anyone who may run SQL on the server
// writes these events.

export type Statement =
  | { kind: "begin" }
  /** Ends the transaction: COMMIT, ROLLBACK (what was logged happened: non-transactional tables), XA COMMIT / ROLLBACK. */
  | { kind: "end" }
  /** Inside a transaction without ending it: SAVEPOINT, ROLLBACK TO, RELEASE, XA END / PREPARE. */
  | { kind: "inside" }
  | { kind: "truncate"; database: string | null; table: string }
  /** Anything else (DDL, …): its own implicit transaction. */
  | { kind: "other" };

type Token = { word: string; quoted: boolean } | { punct: string };

/** At most this many tokens are read: every statement that matters is decided within them. */
const MAX_TOKENS = 10;

function tokens(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = sql.length;
  // Inside an executable comment (`/*! … */`, `/*M!100500 … */`): the server runs its contents.
  let executable = false;
  while (i < n && out.length < MAX_TOKENS) {
    const c = sql[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") i++;
    else if (executable && c === "*" && sql[i + 1] === "/") {
      executable = false;
      i += 2;
    } else if (c === "/" && sql[i + 1] === "*" && (sql[i + 2] === "!" || (sql[i + 2] === "M" && sql[i + 3] === "!"))) {
      executable = true;
      i += sql[i + 2] === "!" ? 3 : 4;
      while (i < n && sql[i]! >= "0" && sql[i]! <= "9") i++; // the version it needs
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end < 0 ? n : end + 2;
    } else if ((c === "-" && sql[i + 1] === "-") || c === "#") {
      const end = sql.indexOf("\n", i);
      i = end < 0 ? n : end + 1;
    } else if (c === "`") {
      let word = "";
      i++;
      while (i < n) {
        if (sql[i] === "`") {
          if (sql[i + 1] === "`") {
            word += "`";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        word += sql[i++];
      }
      out.push({ word, quoted: true });
    } else if (/[\p{L}\p{N}_$]/u.test(c)) {
      let word = "";
      while (i < n && /[\p{L}\p{N}_$]/u.test(sql[i]!)) word += sql[i++];
      out.push({ word, quoted: false });
    } else {
      out.push({ punct: c });
      i++;
    }
  }
  return out;
}

const kw = (t: Token | undefined, word: string) => !!t && "word" in t && !t.quoted && t.word.toUpperCase() === word;
const name = (t: Token | undefined) => (t && "word" in t ? t.word : null);
const isEnd = (t: Token | undefined) => !t || ("punct" in t && t.punct === ";");
/** The end of a TRUNCATE: nothing more, or MariaDB's `WAIT n` / `NOWAIT`. */
const truncateEnds = (t: Token[], at: number) => isEnd(t[at]) || (kw(t[at], "NOWAIT") && isEnd(t[at + 1])) || (kw(t[at], "WAIT") && !!name(t[at + 1]) && isEnd(t[at + 2]));

/** Whether a statement's last two words are START TRANSACTION (read backwards over its last few characters, not parsed). */
function endsStartingTransaction(sql: string): boolean {
  const tail = sql.slice(-64).replace(/[\s;]+$/, "");
  const words = tail.split(/\s+/);
  return words.length >= 2 && words[words.length - 2]!.toUpperCase() === "START" && words[words.length - 1]!.toUpperCase() === "TRANSACTION";
}

export function readStatement(sql: string): Statement {
  const t = tokens(sql);
  if (kw(t[0], "BEGIN") || (kw(t[0], "START") && kw(t[1], "TRANSACTION"))) return { kind: "begin" };
  // MySQL 8.0.21+ logs CREATE TABLE … SELECT as `CREATE TABLE … START TRANSACTION`, its rows and a
  // commit: one transaction that the statement opens.
  if (kw(t[0], "CREATE") && endsStartingTransaction(sql)) return { kind: "begin" };
  if (kw(t[0], "XA")) {
    if (kw(t[1], "START") || kw(t[1], "BEGIN")) return { kind: "begin" };
    if (kw(t[1], "COMMIT") || kw(t[1], "ROLLBACK")) return { kind: "end" };
    return { kind: "inside" };
  }
  if (kw(t[0], "SAVEPOINT") || kw(t[0], "RELEASE")) return { kind: "inside" };
  if (kw(t[0], "ROLLBACK")) return kw(t[1], "TO") || (kw(t[1], "WORK") && kw(t[2], "TO")) ? { kind: "inside" } : { kind: "end" };
  if (kw(t[0], "COMMIT")) return { kind: "end" };
  if (kw(t[0], "TRUNCATE")) {
    let at = kw(t[1], "TABLE") ? 2 : 1;
    const first = name(t[at]);
    if (first === null) return { kind: "other" };
    at++;
    if (t[at] && "punct" in t[at]! && (t[at] as { punct: string }).punct === ".") {
      const second = name(t[at + 1]);
      if (second === null || !truncateEnds(t, at + 2)) return { kind: "other" };
      return { kind: "truncate", database: first, table: second };
    }
    return truncateEnds(t, at) ? { kind: "truncate", database: null, table: first } : { kind: "other" };
  }
  return { kind: "other" };
}
