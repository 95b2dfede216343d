// The spec's connector.stream_changes as a request/response page: the committed changes after a
// cursor, whole transactions only, at least `batch_size` events when that many are waiting (or
// what arrived before the source went quiet), and the cursor to ask from next. It reads the
// product's slot without confirming anything, so it is refused while the stream owns the slot.
import { requireCapability, type ChangeEvent, type ChangeOperation } from "../connectors/types.ts";
import { withCaptureLock } from "../store/capture-lock.ts";
import { AppError } from "../errors/app-error.ts";
import { cursorCodecOf } from "./cursor.ts";
import { getMappings } from "../mapping/service.ts";
import { withInteractiveConnector } from "../sources/connectivity.ts";
import { getStream, leaseHeld } from "../store/streams.ts";
import { PAGE_LIMITS } from "../sources/sessions.ts";

const IDLE_MS = 1000;
const MAX_WAIT_MS = 10_000;

export async function streamChangesPage(sourceId: string, op: { cursor?: string; batch_size: number; include_operations: ChangeOperation[] }) {
  // The input first: a malformed cursor is a field-path error whatever the source's state.
  const codec = await cursorCodecOf(sourceId);
  const asked = op.cursor ? codec.parse(op.cursor, "cursor") : null;
  const stream = await getStream(sourceId);
  if (stream && (stream.enabled || leaseHeld(stream))) {
    throw new AppError("CONFLICT", "the source's stream owns its change capture: stop the stream to read changes page by page (POST …/stream {\"action\":\"stop\"})");
  }
  const tables = [...new Set((await getMappings(sourceId)).mappings.map((m) => m.source.table))];
  if (!tables.length) throw new AppError("BAD_REQUEST", "save a mapping first: it decides which tables are published", { category: "CONFIGURATION" });
  return withInteractiveConnector(sourceId, async (source) => {
    const connector = requireCapability(requireCapability(source, "captureStatus", "capture changes"), "prepareCapture", "capture changes");
    const capture = await connector.captureStatus();
    if (!capture.exists) throw new AppError("BAD_REQUEST", "the source has no change capture yet: run a snapshot or start the stream once", { category: "CONFIGURATION" });
    if (capture.lost) throw new AppError("CONFLICT", "the source's change capture is lost: re-snapshot the source", { category: "FATAL" });
    // Adds the mapped tables, never removes any: a table a concurrent snapshot just added for a
    // newer mapping must stay captured (store/capture-lock.ts).
    await withCaptureLock(sourceId, () => connector.prepareCapture(tables, { replace: false }));
    const from = asked ?? stream?.cursor ?? stream?.capture_start ?? capture.confirmed_cursor ?? capture.current_cursor;
    const abort = new AbortController();
    const changes = connector.streamChanges(tables, from, { include: op.include_operations, signal: abort.signal });
    const events: ChangeEvent[] = [];
    // The page's bytes, and where its last whole transaction ends.
    let lastWhole = 0;
    let bytes = 0;
    let next = changes.next();
    const deadline = Date.now() + MAX_WAIT_MS;
    try {
      for (;;) {
        const timeout = Math.min(IDLE_MS, deadline - Date.now());
        const step = await Promise.race([next, new Promise<null>((r) => setTimeout(() => r(null), Math.max(0, timeout)))]);
        if (step === null || step.done) break;
        const event = step.value;
        const boundary = events.length > 0 && event.cursor !== events[events.length - 1]!.cursor;
        // Whole transactions only: past batch_size, stop at the next commit boundary.
        if (events.length >= op.batch_size && boundary) break;
        if (boundary) lastWhole = events.length;
        bytes += Buffer.byteLength(JSON.stringify(event));
        events.push(event);
        if (bytes > PAGE_LIMITS.bytes) {
          // The page ends at the last whole transaction; one transaction alone past the budget is
          // not served as a page (the stream reads it in parts, committing each).
          if (lastWhole === 0) {
            throw new AppError(
              "BAD_REQUEST",
              `the transaction at ${event.cursor} holds more than ${PAGE_LIMITS.bytes / 1024 / 1024} MiB of changes: too large for one page (pages hold whole transactions); start the stream to read it`,
              { category: "CONFIGURATION" },
            );
          }
          events.length = lastWhole;
          break;
        }
        next = changes.next();
      }
    } finally {
      abort.abort();
      await changes.return?.();
    }
    return { changes: events, cursor: events.length ? events[events.length - 1]!.cursor : from };
  });
}
