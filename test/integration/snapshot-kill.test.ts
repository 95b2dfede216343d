// A snapshot reader killed with SIGKILL half way resumes, in a new process, right after its last
// checkpointed chunk: finished chunks are not read again and no row is missed.
import { spawn } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { createSourceDatabase } from "../support/source-db.ts";

let source: Awaited<ReturnType<typeof createSourceDatabase>>;

beforeAll(async () => {
  source = await createSourceDatabase(
    "ecm_src_kill",
    `CREATE TABLE accounts (account_id bigint PRIMARY KEY, owner text);
     INSERT INTO accounts SELECT i, 'owner ' || i FROM generate_series(1, 2000) i;
     CREATE TABLE snapshot_checkpoint (entity text PRIMARY KEY, last_key text[]);
     CREATE TABLE snapshot_reads (run_pid int, key text);`,
  );
});

function runReader(delayMs: number, onLine?: (line: string, kill: () => void) => void) {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "test/support/children/snapshot-reader.ts", JSON.stringify({ ...source.config, options: { batch_size: 100, change_tracking: "snapshot" } }), source.url, "accounts", String(delayMs)],
    { env: process.env, stdio: ["ignore", "pipe", "inherit"] },
  );
  let buffer = "";
  child.stdout!.on("data", (d: Buffer) => {
    buffer += d.toString();
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      onLine?.(buffer.slice(0, nl), () => child.kill("SIGKILL"));
      buffer = buffer.slice(nl + 1);
    }
  });
  return new Promise<{ pid: number; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (_code, signal) => resolve({ pid: child.pid!, signal })));
}

describe("snapshot killed half way", () => {
  it("resumes after the last checkpointed chunk without re-reading finished chunks", async () => {
    let checkpoints = 0;
    const first = await runReader(50, (line, kill) => {
      if (line.startsWith("checkpoint") && ++checkpoints === 7) kill();
    });
    expect(first.signal).toBe("SIGKILL");
    const saved = (await source.query("SELECT last_key FROM snapshot_checkpoint WHERE entity = 'accounts'")).rows[0].last_key as string[];
    const readBefore = Number((await source.query("SELECT count(*) FROM snapshot_reads WHERE run_pid = $1", [first.pid])).rows[0].count);
    expect(readBefore).toBe(Number(saved[0])); // checkpoints are durable with their chunk's reads
    expect(readBefore).toBeGreaterThanOrEqual(700);
    expect(readBefore).toBeLessThan(2000);

    const second = await runReader(0);
    expect(second.signal).toBeNull();
    const rows = (await source.query("SELECT run_pid, key FROM snapshot_reads")).rows as { run_pid: number; key: string }[];
    const again = rows.filter((r) => r.run_pid === second.pid).map((r) => Number(r.key));
    expect(again.length).toBe(2000 - readBefore); // nothing read twice
    expect(Math.min(...again)).toBe(readBefore + 1);
    expect(new Set(rows.map((r) => r.key)).size).toBe(2000); // nothing missed
  });
});
