// `ecm`: the command-line client of the public API (/api/v1, docs/api.md), for scripts and
// operators. It finds the product through ECM_URL and ECM_TOKEN (or --url / --token), prints text
// for people and JSON with --json, and exits with codes scripts can use:
//   0 done · 1 a difference or an unhealthy check (diff, test) · 2 usage · 3 the API refused
//   (its error is printed) · 4 the product cannot be reached · 5 a run failed (--wait)
// Secrets stay references: `export` writes configs exactly as the API returns them (env://,
// file://, vault://, secret://), never a value.
import fs from "node:fs";

const USAGE = `usage: ecm [--url URL] [--token TOKEN] [--json] <command>

  sources list                          the sources with their state
  sources apply FILE                    create or update a source from {"name","config","mappings"?}
  sources test NAME|ID                  run its health checks (exit 1 when unhealthy)
  sources delete NAME|ID [--keep-slot]  delete it (and its slot and publication on the source)
  mapping apply NAME|ID FILE [--remap]  save {"mappings":[…]} as the next version (--remap: re-map
                                        existing contexts: re-snapshot changed entities, tombstone removed ones)
  mapping diff NAME|ID FILE             compare FILE with the mapping in force (exit 1 when different)
  snapshot NAME|ID [--entity E]… [--wait]
  stream start|stop|status NAME|ID
  dead-letters list [--source NAME|ID] [--status open|replayed|discarded] [--limit N]
  dead-letters replay (--source NAME|ID | ID…) [--wait]
  export [NAME|ID…]                     the sources' configs and mappings as JSON (secrets as references)
  import FILE                           apply every source of an export

environment: ECM_URL (default http://localhost:3000), ECM_TOKEN (prefer it to --token, which
other users can see in the process list)`;

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

function parse(argv: string[]): Options {
  const flags = new Map<string, string[]>();
  const args: string[] = [];
  let url = process.env.ECM_URL ?? "http://localhost:3000";
  let token = process.env.ECM_TOKEN ?? "";
  let json = false;
  const takesValue = new Set(["--url", "--token", "--entity", "--source", "--status", "--limit"]);
  const switches = new Set(["--wait", "--keep-slot", "--remap"]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--json") json = true;
    else if (a === "--help" || a === "-h") throw new CliError(USAGE, EXIT.ok);
    else if (takesValue.has(a)) {
      const v = argv[++i];
      if (v === undefined) throw new CliError(`${a} needs a value\n\n${USAGE}`, EXIT.usage);
      if (a === "--url") url = v;
      else if (a === "--token") token = v;
      else flags.set(a, [...(flags.get(a) ?? []), v]);
    } else if (switches.has(a)) flags.set(a, ["true"]);
    else if (a.startsWith("-")) throw new CliError(`unknown option ${a}\n\n${USAGE}`, EXIT.usage);
    else args.push(a);
  }
  if (!token) throw new CliError("no token: set ECM_TOKEN or pass --token (an API token from Settings → API tokens)", EXIT.usage);
  return { url: url.replace(/\/+$/, ""), token, json, flags, args };
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

/** Applies one exported or hand-written source: created when its name is new, else updated. */
async function applySource(api: Api, doc: { name?: string; config?: unknown; mappings?: unknown }) {
  if (!doc?.name || !doc.config) throw new CliError('a source file needs "name" and "config" (and may have "mappings")', EXIT.usage);
  const existing = (await allSources(api)).find((s) => s.name === doc.name);
  const source: Source = existing ? await api("PATCH", `/sources/${existing.id}`, { config: doc.config }) : await api("POST", "/sources", { name: doc.name, config: doc.config });
  let mapping: { version: number } | null = null;
  if (doc.mappings) {
    const current = await api("GET", `/sources/${source.id}/mappings`);
    mapping = JSON.stringify(current.mappings) === JSON.stringify(doc.mappings) ? current : await api("PUT", `/sources/${source.id}/mappings`, { mappings: doc.mappings });
  }
  return { id: source.id, name: source.name, action: existing ? "updated" : "created", mapping_version: mapping?.version ?? null };
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
  process.stdout.write(o.json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

const table = (rows: string[][]) => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
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
      const result = await applySource(api, readJson(need(rest[0], "FILE")));
      print(o, result, () => `${result.action} ${result.name} (${result.id})${result.mapping_version ? `, mapping version ${result.mapping_version}` : ""}`);
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
      await api("DELETE", `/sources/${s.id}${o.flags.has("--keep-slot") ? "?drop_slot=false" : ""}`);
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
      const page = await api("GET", `/dead-letters?${params}`);
      print(o, page, () => (page.dead_letters.length ? table([["ID", "ENTITY", "KEY", "ERROR"], ...page.dead_letters.map((d: any) => [d.id, d.entity, d.key.join(","), d.error.message.slice(0, 80)])]) : "no dead letters"));
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
          results.push(await applySource(api, s));
        } catch (e) {
          if (!(e instanceof CliError) || e.code === EXIT.unreachable) throw e;
          results.push({ name: s?.name ?? "(no name)", action: "failed", error: e.message });
        }
      }
      print(o, { sources: results }, () => results.map((r) => `${r.action} ${r.name}${r.error ? `: ${r.error}` : ""}`).join("\n") || "nothing to import");
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
      (e.code === EXIT.ok ? process.stdout : process.stderr).write(`${e.message}\n`);
      process.exitCode = e.code;
    } else {
      process.stderr.write(`ecm: ${(e as Error).stack ?? e}\n`);
      process.exitCode = EXIT.refused;
    }
  }
}
