// Deleting a source removes what ECM Connect set up on the source too: a replication slot left
// behind retains WAL on the user's database until its disk fills. The stream is stopped first (so
// no worker recreates the slot), then the slot and the publication are dropped, then the source.
// When they cannot be dropped (source unreachable, no privilege) nothing is deleted and the error
// carries the SQL to run; `drop_slot: false` deletes the source and leaves them.
import type { z } from "zod";
import { connectorType } from "../connectors/registry.ts";
import { env } from "../env.ts";
import { AppError } from "../errors/app-error.ts";
import { logger } from "../logger.ts";
import { getStream, leaseHeld, updateStream } from "../store/streams.ts";
import { withConnector } from "./connectivity.ts";
import type { ZDeleteSourceInput } from "./schemas.ts";
import { deleteSource, getSource } from "./service.ts";

const log = logger("sources");

export async function removeSource(input: z.output<typeof ZDeleteSourceInput>) {
  const source = await getSource(input.id); // 404 before anything else
  if (input.drop_slot) {
    const stream = await getStream(input.id);
    if (stream) {
      await updateStream(input.id, { enabled: false });
      // The owner stops within a control tick; a dead one's lease runs out.
      const deadline = Date.now() + (env().ECM_STREAM_LEASE_SECONDS + 5) * 1000;
      while (Date.now() < deadline && leaseHeld((await getStream(input.id)) ?? { lease_owner: null, lease_expires_at: null })) {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const dropped = await withConnector(input.id, (connector) => connector.dropCapture()).catch((error: unknown) => {
      const sql = connectorType(source.connector_type)!.captureTeardownSql(input.id);
      throw new AppError(
        "CONFLICT",
        `the source was not deleted: its replication slot and publication could not be removed from the source database (${(error as Error).message.replace(/\. Run on the source:.*$/, "")}). ` +
          `Run on the source: ${sql} Or delete with drop_slot=false to leave them there.`,
        { category: "CONFIGURATION", cause: error },
      );
    });
    log.info("replication slot and publication removed from the source", { source_id: input.id, ...dropped });
  }
  await deleteSource(input);
}
