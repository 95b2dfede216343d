// Deleting a source removes what ECM Connect set up on the source too: a replication slot left
// behind retains WAL on the user's database until its disk fills. While no snapshot or replay of
// the source runs (either would set capture up again), its stream is stopped, then — under the
// source's capture lock, so nothing recreates them — the slot and the publication are dropped and
// the source deleted. When they cannot be dropped (source unreachable, no privilege) nothing is
// deleted, the stream is restarted if it ran, and the error carries the SQL to run;
// `drop_capture: false` (or its former name `drop_slot`) deletes the source and leaves them.
import { dropsCapture } from "./schemas.ts";
import type { z } from "zod";
import { connectorType } from "../connectors/registry.ts";
import { pgPool } from "../db.ts";
import { env } from "../env.ts";
import { AppError } from "../errors/app-error.ts";
import { queueStream } from "../jobs/queues.ts";
import { logger } from "../logger.ts";
import { withCaptureLock } from "../store/capture-lock.ts";
import { CONTEXT_WRITING_RUN } from "../store/runs.ts";
import { getStream, leaseHeld, updateStream } from "../store/streams.ts";
import { withConnector } from "./connectivity.ts";
import type { ZDeleteSourceInput } from "./schemas.ts";
import { deleteSource, getSource } from "./service.ts";

const log = logger("sources");

export async function removeSource(input: z.output<typeof ZDeleteSourceInput>) {
  const source = await getSource(input.id); // 404 before anything else
  if (!dropsCapture(input)) return deleteSource(input);

  const { rows: busy } = await pgPool().query(`SELECT kind FROM runs WHERE source_id = $1 AND ${CONTEXT_WRITING_RUN} LIMIT 1`, [input.id]);
  if (busy.length) {
    throw new AppError("CONFLICT", `a ${busy[0].kind} of this source is running: wait for it to finish (it would set change capture up again), then delete`, { category: "CONFIGURATION" });
  }
  const stream = await getStream(input.id);
  const wasEnabled = !!stream?.enabled;
  if (stream) {
    await updateStream(input.id, { enabled: false });
    // The owner stops within a control tick; a dead one's lease runs out.
    const deadline = Date.now() + (env().ECM_STREAM_LEASE_SECONDS + 5) * 1000;
    while (Date.now() < deadline && leaseHeld((await getStream(input.id)) ?? { lease_owner: null, lease_expires_at: null })) {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    await withCaptureLock(input.id, async () => {
      // A connector without change capture set nothing up on the source.
      const dropped = await withConnector(input.id, async (connector) => (connector.dropCapture ? connector.dropCapture() : { removed: [] }));
      log.info({ source_id: input.id, ...dropped }, "change capture removed from the source");
      await deleteSource(input);
    });
  } catch (error) {
    if (wasEnabled) {
      await updateStream(input.id, { enabled: true });
      await queueStream(input.id).catch(() => {}); // else the supervisor queues it
    }
    if (error instanceof AppError && error.code === "NOT_FOUND") throw error;
    const sql = connectorType(source.connector_type)!.captureTeardownSql?.(input.id);
    throw new AppError(
      "CONFLICT",
      `the source was not deleted: its change capture (replication slot and publication, or their equivalent) could not be removed from the source database (${(error as Error).message.replace(/\. Run on the source:.*$/, "")}). ` +
        `${sql ? `Run on the source: ${sql} ` : ""}Or delete with drop_capture=false to leave them there.`,
      { category: "CONFIGURATION", cause: error },
    );
  }
}
