// `ecm`: the command-line client of the public API (/api/v1, docs/api.md), for scripts and
// operators. It finds the product through ECM_URL (or --url) and its token in ECM_TOKEN, a file
// (--token-file) or standard input (--token-stdin), never the command line (every local user can
// read a process's arguments); it sends the token only over https, or http to this machine. It
// prints text for people (control characters from the source escaped) and JSON with --json, and
// exits with codes scripts can use:
//   0 done · 1 a difference or an unhealthy check (diff, test) · 2 usage · 3 the API refused
//   (its error is printed) · 4 the product cannot be reached · 5 a run failed (--wait)
// Secrets stay references: `export` writes configs exactly as the API returns them (env://,
// file://, vault://, secret://), never a value.
import fs from "node:fs";
import { isSecretName } from "../server/secrets/redact.ts";
import { isSecretReference } from "../server/secrets/references.ts";

const USAGE = `usage: ecm [--url URL] [--token-file FILE | --token-stdin] [--json] <command>

  sources list                          the sources with their state
  sources apply FILE [--yes]            create or update a source from {"name","config","mappings"?}
                                        (--yes: also change an existing source's connection)
  sources test NAME|ID                  run its health checks (exit 1 when unhealthy)
  sources delete NAME|ID [--keep-capture]  delete it (and its change capture on the source; --keep-slot: the same)
  mapping apply NAME|ID FILE [--remap]  save {"mappings":[…]} as the next version (--remap: re-map
                                        existing contexts: re-snapshot changed entities, tombstone removed ones)
  mapping diff NAME|ID FILE             compare FILE with the mapping in force (exit 1 when different)
  snapshot NAME|ID [--entity E]… [--wait]
  stream start|stop|status NAME|ID
  dead-letters list [--source NAME|ID] [--status open|replayed|discarded] [--limit N] [--cursor C]
  dead-letters replay (--source NAME|ID | ID…) [--wait]
  audit [--source NAME|ID] [--actor WHO] [--action KIND] [--since ISO-TIME] [--limit N] [--cursor C]
                                        who changed what, newest first (admin tokens)
  export [NAME|ID…]                     the sources' configs and mappings as JSON (secrets as references)
  import FILE [--yes]                   apply every source of an export (--yes: also change the
                                        connection of an existing source; without it, shown and refused)

environment: ECM_URL (default http://localhost:3000), ECM_TOKEN. A token is never taken from the
command line (other users can see it in the process list), and is sent only over https or to
this machine.`;

export const EXIT = { ok: 0, different: 1, usage: 2, refused: 3, unreachable: 4, runFailed: 5 } as const;

class CliError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

type Options = { url: string; token: string; json: boolean; flags: Map<string, string[]>; args: string[] };

/** Reads the command line. `stdin` gives standard input's text (for --token-stdin). */
export function parse(argv: string[], input: { env?: Record<string, string | undefined>; stdin?: () => string } = {}): Options {
  const environment = input.env ?? process.env;
  const flags = new Map<string, string[]>();
  const args: string[] = [];
  let url = environment.ECM_URL ?? "http://localhost:3000";
  let token = environment.ECM_TOKEN ?? "";
  let json = false;
  const takesValue = new Set(["--url", "--token-file", "--entity", "--source", "--status", "--limit", "--actor", "--action", "--since", "--cursor"]);
  const switches = new Set(["--wait", "--keep-capture", "--keep-slot", "--remap", "--yes", "--token-stdin"]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--json") json = true;
    else if (a === "--help" || a === "-h") throw new CliError(USAGE, EXIT.ok);
    else if (a === "--token" || a.startsWith("--token=")) {
      throw new CliError("a token on the command line is visible to every user of this machine (ps): set ECM_TOKEN, or use --token-file FILE or --token-stdin", EXIT.usage);
    } else if (takesValue.has(a)) {
      const v = argv[++i];
      if (v === undefined) throw new CliError(`${a} needs a value\n\n${USAGE}`, EXIT.usage);
      if (a === "--url") url = v;
      else if (a === "--token-file") token = readTokenFile(v);
      else flags.set(a, [...(flags.get(a) ?? []), v]);
    } else if (switches.has(a)) flags.set(a, ["true"]);
    else if (a.startsWith("-")) throw new CliError(`unknown option ${a}\n\n${USAGE}`, EXIT.usage);
    else args.push(a);
  }
  if (flags.has("--token-stdin")) token = (input.stdin ?? (() => fs.readFileSync(0, "utf8")))().split(/\r?\n/)[0]!.trim();
  if (!token) throw new CliError("no token: set ECM_TOKEN, or use --token-file FILE or --token-stdin (an API token from Settings → API tokens)", EXIT.usage);
  return { url: checkedUrl(url), token, json, flags, args };
}

function readTokenFile(file: string): string {
  try {
    return fs.readFileSync(file, "utf8").split(/\r?\n/)[0]!.trim();
  } catch (e) {
    throw new CliError(`cannot read the token file ${file}: ${(e as Error).message}`, EXIT.usage);
  }
}

/** The product's address: https anywhere, plain http only to this machine (a bearer token would travel in clear). */
function checkedUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(`not a URL: ${JSON.stringify(text)} (ECM_URL or --url)`, EXIT.usage);
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const loopback = host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
  if (url.protocol === "http:" && !loopback) {
    throw new CliError(`refusing to send the token in clear to ${url.host}: use https://${url.host} (plain http only to this machine)`, EXIT.usage);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new CliError(`ECM_URL must be http(s), got ${url.protocol}`, EXIT.usage);
  return text.replace(/\/+$/, "");
}

/** Text from the source (names, keys, error messages) with control characters shown, not obeyed by the terminal. */
export function clean(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => (c === "\n" ? "\n" : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
}

type Api = <T = any>(method: string, path: string, body?: unknown) => Promise<T>;

function client(o: Options): Api {
  return async (method, path, body) => {
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${o.url}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${o.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
      text = await res.text();
    } catch (e) {
      throw new CliError(`cannot reach ${o.url}: ${(e as Error).message} (set ECM_URL or --url)`, EXIT.unreachable);
    }
    let parsed: any = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // Not the product's answer (a proxy's error page, another service at that address).
      throw new CliError(`${o.url} did not answer as ECM Connect (${res.status}, ${res.headers.get("content-type") ?? "no content type"}); check ECM_URL`, res.status >= 500 ? EXIT.unreachable : EXIT.refused);
    }
    if (!res.ok) {
      const err = parsed?.error;
      const issues = (err?.issues ?? []).map((i: { path: string; message: string }) => `\n  ${i.path}: ${i.message}`).join("");
      throw new CliError(`${method} ${path}: ${res.status} ${err?.code ?? ""} ${err?.message ?? text}${issues}`, EXIT.refused);
    }
    return parsed;
  };
}

const readJson = (file: string) => {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new CliError(`cannot read ${file} as JSON: ${(e as Error).message}`, EXIT.usage);
  }
};

type Source = { id: string; name: string; connector_type: string; config: unknown; status: string; state?: string };

async function allSources(api: Api): Promise<Source[]> {
  const out: Source[] = [];
  let cursor: string | null = null;
  do {
    const page: { sources: Source[]; next_cursor: string | null } = await api("GET", `/sources?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    out.push(...page.sources);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

async function resolveSource(api: Api, ref: string | undefined): Promise<Source> {
  if (!ref) throw new CliError(`name or id of a source expected\n\n${USAGE}`, EXIT.usage);
  const found = (await allSources(api)).find((s) => s.id === ref || s.name === ref);
  if (!found) throw new CliError(`no source named or with id ${ref}`, EXIT.refused);
  return found;
}

async function waitForRun(api: Api, runId: string): Promise<{ status: string; counters: Record<string, number>; error?: unknown }> {
  for (;;) {
    const run = await api("GET", `/runs/${runId}`);
    if (!["queued", "running"].includes(run.status)) return run;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * Where two configs' connection or authentication differ, as "path: before → after". A value under
 * a secret-looking name is shown only when it is a secret reference (env://, …); a typed password
 * is never printed.
 */
export function connectionChanges(before: unknown, after: unknown): string[] {
  const flat = (v: unknown, prefix: string, out: Map<string, string>) => {
    if (v && typeof v === "object" && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) flat(x, prefix ? `${prefix}.${k}` : k, out);
    else out.set(prefix, isSecretName(prefix.split(".").pop()!) && !(typeof v === "string" && isSecretReference(v)) ? (v === undefined ? "—" : "(a value, not shown)") : JSON.stringify(v));
    return out;
  };
  const pick = (c: any) => ({ connection: c?.connection, authentication: c?.authentication });
  const a = flat(pick(before), "", new Map());
  const b = flat(pick(after), "", new Map());
  return [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).map((k) => `${k}: ${a.get(k) ?? "—"} → ${b.get(k) ?? "—"}`);
}

/**
 * Applies one exported or hand-written source: created when its name is new, else updated. A
 * change to an existing source's connection (where it connects, as whom) is shown and made only
 * with `confirmed` (--yes).
 */
async function applySource(api: Api, doc: { name?: string; config?: unknown; mappings?: unknown }, confirmed = false) {
  if (!doc?.name || !doc.config) throw new CliError('a source file needs "name" and "config" (and may have "mappings")', EXIT.usage);
  const existing = (await allSources(api)).find((s) => s.name === doc.name);
  const changes = existing ? connectionChanges(existing.config, doc.config) : [];
  if (changes.length && !confirmed) throw new CliError(`would change the connection of ${doc.name} (${changes.join("; ")}); run again with --yes to apply`, EXIT.refused);
  const source: Source = existing ? await api("PATCH", `/sources/${existing.id}`, { config: doc.config }) : await api("POST", "/sources", { name: doc.name, config: doc.config });
  let mapping: { version: number } | null = null;
  if (doc.mappings) {
    const current = await api("GET", `/sources/${source.id}/mappings`);
    mapping = JSON.stringify(current.mappings) === JSON.stringify(doc.mappings) ? current : await api("PUT", `/sources/${source.id}/mappings`, { mappings: doc.mappings });
  }
  return { id: source.id, name: source.name, action: existing ? "updated" : "created", mapping_version: mapping?.version ?? null, connection_changes: changes };
}

/** Field-by-field differences between two mapping documents (by table and context type). */
export function mappingDiff(current: any[], wanted: any[]): string[] {
  const key = (m: any) => `${m.source?.table} → ${m.target?.context_type}`;
  const out: string[] = [];
  const now = new Map(current.map((m) => [key(m), m]));
  const want = new Map(wanted.map((m) => [key(m), m]));
  for (const [k, m] of want) if (!now.has(k)) out.push(`+ ${k} (new mapping, ${m.fields?.length ?? 0} fields)`);
  for (const k of now.keys()) if (!want.has(k)) out.push(`- ${k} (removed)`);
  for (const [k, m] of want) {
    const before = now.get(k);
    if (!before) continue;
    const fields = (x: any) => new Map<string, string>((x.fields ?? []).map((f: any) => [f.target, JSON.stringify({ source: f.source, transform: f.transform })]));
    const a = fields(before);
    const b = fields(m);
    for (const [t, v] of b) if (!a.has(t)) out.push(`+ ${k}: ${t} ${v}`);
    else if (a.get(t) !== v) out.push(`~ ${k}: ${t} ${a.get(t)} → ${v}`);
    for (const t of a.keys()) if (!b.has(t)) out.push(`- ${k}: ${t}`);
  }
  return out;
}

function print(o: Options, value: unknown, text: () => string) {
  process.stdout.write(o.json ? `${JSON.stringify(value, null, 2)}\n` : `${clean(text())}\n`);
}

/** Audit entries as a table: when, who (and for whom a token acts), from where, what. */
/** The line that says how to read the next page of a list (nothing on its last page). */
export function morePages(nextCursor: string | null | undefined): string {
  return nextCursor ? `\nmore: the same command with --cursor ${nextCursor}` : "";
}

export function auditTable(entries: { at: string; actor: { name: string; owner: { name: string } | null }; client_address: string | null; action: string; target: { kind: string; id: string | null } }[]): string {
  if (!entries.length) return "no audit entries";
  const who = (e: (typeof entries)[number]) => (e.actor.owner && e.actor.owner.name !== e.actor.name ? `${e.actor.name} (for ${e.actor.owner.name})` : e.actor.name);
  return table([["AT", "WHO", "FROM", "ACTION", "TARGET"], ...entries.map((e) => [e.at, who(e), e.client_address ?? "—", e.action, `${e.target.kind} ${e.target.id ?? ""}`.trim()])]);
}

/** A table whose cells are one line each (a newline from the source is shown, not obeyed). */
const table = (rows: string[][]) => {
  const cells = rows.map((r) => r.map((c) => clean(c).replaceAll("\n", "\\n")));
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
};

export async function run(argv: string[]): Promise<number> {
  const o = parse(argv);
  const api = client(o);
  const [cmd, sub, ...rest] = o.args;
  const wait = o.flags.has("--wait");
  switch (`${cmd} ${sub ?? ""}`.trim()) {
    case "sources list": {
      const sources = await allSources(api);
      print(o, { sources }, () => table([["NAME", "ID", "TYPE", "STATE"], ...sources.map((s) => [s.name, s.id, s.connector_type, s.state ?? s.status])]));
      return EXIT.ok;
    }
    case "sources apply": {
      const result = await applySource(api, readJson(need(rest[0], "FILE")), o.flags.has("--yes"));
      print(o, result, () => `${result.action} ${result.name} (${result.id})${result.mapping_version ? `, mapping version ${result.mapping_version}` : ""}${result.connection_changes.map((c) => `\n  connection ${c}`).join("")}`);
      return EXIT.ok;
    }
    case "sources test": {
      const s = await resolveSource(api, rest[0]);
      const health = await api("POST", `/sources/${s.id}/health`);
      print(o, health, () => [`${s.name}: ${health.status}`, ...health.checks.map((c: any) => `  ${c.status.padEnd(4)} ${c.name}: ${c.message}${c.hint ? `\n       → ${c.hint}` : ""}`)].join("\n"));
      return health.status === "unhealthy" ? EXIT.different : EXIT.ok;
    }
    case "sources delete": {
      const s = await resolveSource(api, rest[0]);
      await api("DELETE", `/sources/${s.id}${o.flags.has("--keep-capture") || o.flags.has("--keep-slot") ? "?drop_capture=false" : ""}`);
      print(o, { deleted: s.id }, () => `deleted ${s.name}`);
      return EXIT.ok;
    }
    case "mapping apply": {
      const s = await resolveSource(api, rest[0]);
      const saved = await api("PUT", `/sources/${s.id}/mappings`, { mappings: mappingsIn(readJson(need(rest[1], "FILE")), s.name), ...(o.flags.has("--remap") ? { remap: true } : {}) });
      print(o, saved, () =>
        [
          `${s.name}: mapping version ${saved.version}`,
          ...(saved.remap?.entities?.length ? [`re-mapping ${saved.remap.entities.join(", ")} (run ${saved.remap.run_id})`] : []),
          ...(saved.remap?.removed?.length ? [`tombstoned ${saved.remap.tombstoned} contexts of ${saved.remap.removed.join(", ")} (no longer mapped)`] : []),
          ...(saved.warnings ?? []).map((w: { path: string; message: string }) => `warning: ${w.path}: ${w.message}`),
        ].join("\n"),
      );
      return EXIT.ok;
    }
    case "mapping diff": {
      const s = await resolveSource(api, rest[0]);
      const wanted = mappingsIn(readJson(need(rest[1], "FILE")), s.name);
      const current = await api("GET", `/sources/${s.id}/mappings`);
      const lines = mappingDiff(current.mappings ?? [], wanted);
      print(o, { version: current.version, differences: lines }, () => (lines.length ? lines.join("\n") : `no differences from version ${current.version}`));
      return lines.length ? EXIT.different : EXIT.ok;
    }
    case "stream start":
    case "stream stop": {
      const s = await resolveSource(api, rest[0]);
      const r = await api("POST", `/sources/${s.id}/stream`, { action: sub });
      print(o, r, () => `${s.name}: stream ${sub === "start" ? "starting" : "stopping"} (run ${r.run_id ?? "—"})`);
      return EXIT.ok;
    }
    case "stream status": {
      const s = await resolveSource(api, rest[0]);
      const st = await api("GET", `/sources/${s.id}/status`);
      print(o, st, () => `${s.name}: ${st.state}; cursor ${st.cursor ?? "—"}; lag ${st.lag_bytes ?? "—"} bytes, ${st.lag_seconds ?? "—"} s${st.error ? `\n  ${st.error.category ?? ""} ${st.error.message}` : ""}`);
      return EXIT.ok;
    }
    case "dead-letters list": {
      const params = new URLSearchParams();
      const source = o.flags.get("--source")?.[0];
      if (source) params.set("source_id", (await resolveSource(api, source)).id);
      params.set("status", o.flags.get("--status")?.[0] ?? "open");
      params.set("limit", o.flags.get("--limit")?.[0] ?? "50");
      const cursor = o.flags.get("--cursor")?.[0];
      if (cursor) params.set("cursor", cursor);
      const page = await api("GET", `/dead-letters?${params}`);
      print(o, page, () => (page.dead_letters.length ? table([["ID", "ENTITY", "KEY", "ERROR"], ...page.dead_letters.map((d: any) => [d.id, d.entity, d.key.join(","), d.error.message.slice(0, 80)])]) : "no dead letters") + morePages(page.next_cursor));
      return EXIT.ok;
    }
    case "audit": {
      const params = new URLSearchParams({ limit: o.flags.get("--limit")?.[0] ?? "50" });
      const source = o.flags.get("--source")?.[0];
      if (source) params.set("source_id", (await resolveSource(api, source)).id);
      for (const [flag, name] of [["--actor", "actor"], ["--action", "action"], ["--since", "since"], ["--cursor", "cursor"]] as const) {
        const v = o.flags.get(flag)?.[0];
        if (v) params.set(name, v);
      }
      const page = await api("GET", `/audit?${params}`);
      print(o, page, () => auditTable(page.entries) + morePages(page.next_cursor));
      return EXIT.ok;
    }
    case "dead-letters replay": {
      const source = o.flags.get("--source")?.[0];
      const body = source ? { filter: { source_id: (await resolveSource(api, source)).id } } : { ids: rest };
      if (!source && !rest.length) throw new CliError(`dead-letters replay needs --source or dead letter ids\n\n${USAGE}`, EXIT.usage);
      const started = await api("POST", "/dead-letters/replay", body);
      return finish(o, api, started.run_id, wait, "replay");
    }
    default:
      break;
  }
  switch (cmd) {
    case "snapshot": {
      const s = await resolveSource(api, sub);
      const entities = o.flags.get("--entity");
      const started = await api("POST", `/sources/${s.id}/snapshot`, entities ? { entities } : {});
      return finish(o, api, started.run_id, wait, "snapshot");
    }
    case "export": {
      const wanted = [sub, ...rest].filter((x): x is string => !!x);
      const sources = (await allSources(api)).filter((s) => !wanted.length || wanted.includes(s.name) || wanted.includes(s.id));
      const exported = await Promise.all(sources.map(async (s) => ({ name: s.name, config: s.config, mappings: (await api("GET", `/sources/${s.id}/mappings`)).mappings })));
      process.stdout.write(`${JSON.stringify({ ecm_export: 1, sources: exported }, null, 2)}\n`);
      return EXIT.ok;
    }
    case "import": {
      // Every source is tried; each one's outcome is reported. A typed password's secret:// reference
      // belongs to the installation that stored it: on another one, type the password again.
      const doc = readJson(need(sub, "FILE"));
      const results: ({ name: string; action: string; error?: string } & Partial<Awaited<ReturnType<typeof applySource>>>)[] = [];
      for (const s of doc.sources ?? []) {
        try {
          results.push(await applySource(api, s, o.flags.has("--yes")));
        } catch (e) {
          if (!(e instanceof CliError) || e.code === EXIT.unreachable) throw e;
          results.push({ name: s?.name ?? "(no name)", action: "failed", error: e.message });
        }
      }
      print(o, { sources: results }, () => results.map((r) => `${r.action} ${r.name}${r.error ? `: ${r.error}` : ""}${(r.connection_changes ?? []).map((c) => `\n  connection ${c}`).join("")}`).join("\n") || "nothing to import");
      return results.some((r) => r.error) ? EXIT.refused : EXIT.ok;
    }
  }
  throw new CliError(USAGE, EXIT.usage);
}

/** The mappings of a file: a mapping document, a source file, or an export (its source of that name). */
function mappingsIn(doc: any, sourceName: string): unknown[] {
  if (Array.isArray(doc?.mappings)) return doc.mappings;
  const exported = Array.isArray(doc?.sources) ? doc.sources.find((s: { name?: string }) => s?.name === sourceName) : null;
  if (Array.isArray(exported?.mappings)) return exported.mappings;
  throw new CliError(`the file has no "mappings" (nor an exported source named ${sourceName} with some)`, EXIT.usage);
}

function need(value: string | undefined, what: string): string {
  if (!value) throw new CliError(`${what} expected\n\n${USAGE}`, EXIT.usage);
  return value;
}

async function finish(o: Options, api: Api, runId: string, wait: boolean, what: string): Promise<number> {
  if (!wait) {
    print(o, { run_id: runId }, () => `${what} queued: run ${runId}`);
    return EXIT.ok;
  }
  const run = await waitForRun(api, runId);
  print(o, run, () => `${what} ${run.status}: ${Object.entries(run.counters ?? {}).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  return run.status === "succeeded" ? EXIT.ok : EXIT.runFailed;
}

export async function main(argv: string[]) {
  try {
    process.exitCode = await run(argv);
  } catch (e) {
    if (e instanceof CliError) {
      (e.code === EXIT.ok ? process.stdout : process.stderr).write(`${clean(e.message)}\n`);
      process.exitCode = e.code;
    } else {
      process.stderr.write(`ecm: ${clean(String((e as Error).stack ?? e))}\n`);
      process.exitCode = EXIT.refused;
    }
  }
}
