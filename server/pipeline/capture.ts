// Change capture and the store's order (docs/lifecycle.md). A log position means something only
// within the capture that produced it: a slot recreated, a database restored on another server, a
// failover all restart or rewind positions. So the store orders writes by (generation, position),
// and a new capture starts a new generation, never silently:
//   - the first capture of a source, or a full snapshot recovering a broken one, starts one;
//   - with a capture recorded, a capture found missing, lost, replaced or on another server is
//     "broken": the source fails loudly (FATAL, an alert) until a full snapshot recovers, or that
//     snapshot starts by itself when the source asks for it (options.capture_lost: "resnapshot");
//   - an entity-scoped snapshot never starts a generation.
// Everything here runs under the source's capture lock, so the judgement and what it decides
// cannot interleave with another process's.
import { alert } from "../alerts/service.ts";
import { capturesChanges, cursorCodec } from "../connectors/registry.ts";
import { requireCapability, type CaptureStatus, type CursorCodec, type ECMConnector } from "../connectors/types.ts";
import { AppError } from "../errors/app-error.ts";
import { queueStream } from "../jobs/queues.ts";
import { logger } from "../logger.ts";
import { queueSnapshot } from "../runs/service.ts";
import type { TSource } from "../sources/schemas.ts";
import { latestMappingVersion, sourceExists, withCaptureLock } from "../store/capture-lock.ts";
import { holdsSource } from "../store/contexts.ts";
import { createRun, setSourceState } from "../store/runs.ts";
import { adoptCapture, beginGeneration, ensureStream, getStream, markCaptureBroken, updateStream, type StreamRow } from "../store/streams.ts";
import type pg from "pg";

const log = logger("capture");

/** The capture cannot deliver what the store needs: only a full snapshot (a new generation) recovers. */
export class CaptureBrokenError extends AppError {
  constructor(message: string) {
    super("CONFLICT", message, { category: "FATAL" });
    this.name = "CaptureBrokenError";
  }
}

export type CaptureVerdict =
  /** The capture is the one this generation made. */
  | { kind: "ok" }
  /** A capture exists but none was recorded (made before generations were): taken as this generation's. */
  | { kind: "adopt" }
  /** Nothing was ever captured for this source. */
  | { kind: "none" }
  | { kind: "broken"; reason: string };

type Recorded = Pick<StreamRow, "cursor" | "generation" | "capture_server" | "capture_start" | "capture_broken">;

/** Whether the source's capture is still the one the store's positions came from. */
export function judgeCapture(status: CaptureStatus, recorded: Recorded, codec: CursorCodec): CaptureVerdict {
  const since = recorded.cursor ?? recorded.capture_start;
  const broken = (why: string): CaptureVerdict => ({
    kind: "broken",
    reason: `changes${since ? ` since ${since}` : ""} cannot be read: ${why}. A full re-snapshot recovers (it starts a new capture generation)`,
  });
  // Sticky until a full snapshot starts a new generation (whatever the source shows meanwhile).
  if (recorded.capture_broken) return { kind: "broken", reason: recorded.capture_broken };
  if (recorded.capture_server === null) {
    // Only a source from before generations were recorded (generation 0) has a capture to adopt;
    // after a spell without capture, a capture still on the source is stale and is replaced.
    if (recorded.generation === 0 && status.exists && !status.lost) return { kind: "adopt" };
    return recorded.cursor === null ? { kind: "none" } : broken(`the change capture (${status.name}) no longer exists`);
  }
  if (status.server !== recorded.capture_server) return broken(`the source is now another server or database (${status.server}; the capture was made on ${recorded.capture_server})`);
  if (!status.exists) return broken(`the change capture (${status.name}) no longer exists: it was dropped, or the server failed over to one without it`);
  if (status.lost) return broken(`the change capture (${status.name}) is lost: the source removed log it still needed`);
  if (since && status.oldest_cursor && codec.order(since) < codec.order(status.oldest_cursor)) {
    return broken(`the source no longer holds its log from ${since} (it now starts at ${status.oldest_cursor}): it was purged`);
  }
  if (logEndsBefore(status, since, codec)) {
    return broken(`the source's log ends at ${status.current_cursor}, before the store's ${since}: the log was reset, or this is another server`);
  }
  // Nothing but this product moves a capture, and never past the store's cursor: one that starts
  // later was made anew by someone else (dropped and created again).
  if (since && status.confirmed_cursor && codec.order(status.confirmed_cursor) > codec.order(since)) {
    return broken(`the change capture (${status.name}) was replaced: it starts at ${status.confirmed_cursor}, after the store's ${since}`);
  }
  return { kind: "ok" };
}

/** The source's log ends before the store's cursor (a reset log, another server). */
const logEndsBefore = (status: CaptureStatus, since: string | null, codec: CursorCodec) => !!since && codec.order(status.current_cursor) < codec.order(since);

/**
 * The capture as the source shows it, judged against what the store recorded (under the lock).
 * The source first, then the record: a stream commits its cursor before it confirms it to the
 * source, so read in this order a healthy capture is never ahead of it.
 */
async function judgedCapture(connector: ECMConnector, source: TSource, db: pg.ClientBase) {
  const read = () => requireCapability(connector, "captureStatus", "capture changes").captureStatus();
  const codec = cursorCodec(source.connector_type);
  const status = await read();
  const recorded = (await getStream(source.id, db))!;
  let verdict = judgeCapture(status, recorded, codec);
  if (verdict.kind === "broken" && !recorded.capture_broken && logEndsBefore(status, recorded.cursor ?? recorded.capture_start, codec)) {
    // A running stream may have committed a cursor past the log's end as read before the record:
    // the end is read again (it only moves forward on the same log) before calling it broken.
    verdict = judgeCapture({ ...status, current_cursor: (await read()).current_cursor }, recorded, codec);
  }
  return { status, recorded, verdict };
}

/** Where a snapshot's rows stand: their generation, and the cursor their capture delivers every later commit from (null: no capture). */
export type SnapshotCapture = { generation: number; start: string | null };

/**
 * Capture before a snapshot's first read (so nothing committed meanwhile is missed). A full
 * snapshot may start a new generation (the first capture, or the recovery from a broken one); an
 * entity-scoped one may not: it fails FATAL with what recovers.
 */
export async function captureForSnapshot(connector: ECMConnector, source: TSource, tables: string[], full: boolean): Promise<SnapshotCapture> {
  const sourceId = source.id;
  const outcome = await withCaptureLock(sourceId, async (db): Promise<SnapshotCapture | { broken: string }> => {
    // A source being deleted has its capture dropped under this lock: never create it again.
    if (!(await sourceExists(db, sourceId))) throw AppError.notFound(`source ${sourceId}`);
    await ensureStream(sourceId);
    if (!capturesChanges(source.config)) return withoutCapture(connector, db, sourceId);
    const capture = requireCapability(connector, "prepareCapture", "capture changes");
    const { recorded, verdict } = await judgedCapture(connector, source, db);
    if (verdict.kind === "ok" || verdict.kind === "adopt") {
      const setup = await capture.prepareCapture(tables, { replace: false });
      if (verdict.kind === "adopt") await adoptCapture(db, sourceId, { server: setup.server, start: setup.start });
      return { generation: recorded.generation, start: setup.start };
    }
    if (!full && verdict.kind === "broken") return markBroken(db, sourceId, recorded.generation, verdict.reason);
    if (!full && (await holdsSource(sourceId))) {
      throw new AppError("BAD_REQUEST", "this source has contexts but no change capture yet: a snapshot of some entities cannot start one; run a full snapshot (all mapped entities)", { category: "CONFIGURATION" });
    }
    const setup = await capture.prepareCapture(tables, { replace: true });
    const next = await beginGeneration(db, sourceId, { server: setup.server, start: setup.start });
    log.info({ source_id: sourceId, generation: next.generation, start: setup.start, ...(verdict.kind === "broken" ? { recovering: verdict.reason } : {}) }, "new capture generation");
    if (next.restart) await restartStream(sourceId);
    return { generation: next.generation, start: setup.start };
  });
  if ("broken" in outcome) throw await captureBroken(source, outcome.broken);
  return outcome;
}

/**
 * A snapshot of a source without change capture: positions are pass numbers, an order of their
 * own (a generation of its own). A capture left from when the source had one is removed: it would
 * keep the source's log for nothing.
 */
async function withoutCapture(connector: ECMConnector, db: pg.ClientBase, sourceId: string): Promise<SnapshotCapture> {
  const recorded = (await getStream(sourceId, db))!;
  if (recorded.capture_server === null && recorded.generation > 0) return { generation: recorded.generation, start: null };
  if (recorded.capture_server !== null && connector.dropCapture) {
    const { removed } = await connector.dropCapture();
    if (removed.length) log.info({ source_id: sourceId, removed }, "the source no longer captures changes: its capture was removed");
  }
  const next = await beginGeneration(db, sourceId, { server: null, start: null });
  return { generation: next.generation, start: null };
}

/**
 * A stream's owner takes the capture over (under the lock, and only while its mapping is the
 * latest: else null, and the caller reloads it). A stream may make the first capture of a source
 * with nothing streamed yet; a broken one fails it FATAL.
 */
export async function captureForStream(connector: ECMConnector, source: TSource, tables: string[], mappingVersion: number): Promise<{ generation: number; added: string[] } | null> {
  const sourceId = source.id;
  const attach = requireCapability(connector, "attachCapture", "capture changes");
  const outcome = await withCaptureLock(sourceId, async (db): Promise<{ generation: number; added: string[] } | { broken: string } | null> => {
    if ((await latestMappingVersion(db, sourceId)) !== mappingVersion) return null;
    const { status, recorded, verdict } = await judgedCapture(connector, source, db);
    if (verdict.kind === "broken") return markBroken(db, sourceId, recorded.generation, verdict.reason);
    let generation = recorded.generation;
    if (verdict.kind === "none") {
      // The stream's own lease stays valid (no fence): no one else streams this source.
      const setup = await requireCapability(connector, "prepareCapture", "capture changes").prepareCapture(tables, { replace: true });
      generation = (await beginGeneration(db, sourceId, { server: setup.server, start: setup.start }, { fence: false })).generation;
      log.info({ source_id: sourceId, generation, start: setup.start }, "new capture generation (first capture, made by the stream)");
    }
    if (verdict.kind === "adopt") await adoptCapture(db, sourceId, { server: status.server, start: status.confirmed_cursor });
    const { added } = await attach.attachCapture(tables);
    return { generation, added };
  });
  if (outcome && "broken" in outcome) throw await captureBroken(source, outcome.broken);
  return outcome;
}

/** The loud state, recorded under the lock for the generation that was judged (never a newer one). */
async function markBroken(db: pg.ClientBase, sourceId: string, generation: number, reason: string): Promise<{ broken: string }> {
  await markCaptureBroken(db, sourceId, generation, reason);
  return { broken: reason };
}

/** Records the loud state (source failed, alert) and, when the source asks for it, queues the full re-snapshot that recovers. */
async function captureBroken(source: TSource, reason: string): Promise<CaptureBrokenError> {
  await setSourceState(source.id, "failed", reason);
  const auto = source.config.options.capture_lost === "resnapshot";
  let message = reason;
  if (auto) {
    try {
      const { run_id } = await queueSnapshot(source.id, undefined, "capture lost (options.capture_lost: resnapshot)");
      message = `${reason}. A full re-snapshot was started (run ${run_id})`;
    } catch (e) {
      message = `${reason}. The full re-snapshot could not be queued: ${(e as Error).message}`;
    }
  }
  log.error({ source_id: source.id, auto_resnapshot: auto }, message);
  await alert({ sourceId: source.id, category: "FATAL", message, hint: auto ? "a full re-snapshot is running; the stream starts again with the new capture" : "run a full snapshot of the source (all mapped entities): it makes a new capture and the stream starts again from it" });
  return new CaptureBrokenError(message);
}

/** A stream that failed with its capture is wanted again: a new run, queued (the supervisor queues it if Redis is away). */
async function restartStream(sourceId: string) {
  const run = await createRun({ sourceId, kind: "stream", request: { reason: "new capture generation" }, createdBy: "capture recovery" });
  await updateStream(sourceId, { run_id: run.id });
  await queueStream(sourceId).catch(() => {});
}
