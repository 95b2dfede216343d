// The options every connector type shares (the spec's options block), one schema for all of them.
import { z } from "zod";

export const ZSourceOptions = z
  .object({
    batch_size: z.number().int().min(1).max(100_000).default(1000).meta({ title: "Batch size", description: "Rows per snapshot chunk and changes per CDC batch" }),
    change_tracking: z.enum(["cdc", "snapshot"]).default("cdc").meta({ title: "Change tracking", description: "cdc: snapshot, then stream changes; snapshot: snapshots only" }),
    capture_lost: z
      .enum(["fail", "resnapshot"])
      .optional()
      .meta({
        title: "When the capture is lost",
        description:
          "fail (default): a change capture dropped, lost or replaced on the source, or a database moved to another server, fails the source until a full re-snapshot; resnapshot: that full re-snapshot starts by itself (docs/lifecycle.md)",
      }),
    deletes: z
      .enum(["tombstone", "hard"])
      .optional()
      .meta({ title: "Deletes", description: 'tombstone (default): a deleted row\'s context stays, marked deleted; hard: it is removed from the store once no snapshot or replay of the source is running' }),
    retry: z
      .object({
        initial_ms: z.number().int().min(10).max(600_000).optional().meta({ title: "First delay (ms)", description: "First delay before retrying a TRANSIENT error (default ECM_RETRY_INITIAL_MS, 1000)" }),
        max_ms: z.number().int().min(10).max(3_600_000).optional().meta({ title: "Longest delay (ms)", description: "Longest delay between retries (default ECM_RETRY_MAX_MS, 300000)" }),
        factor: z.number().min(1).max(10).optional().meta({ title: "Growth factor", description: "Growth of the delay per attempt (default 2)" }),
      })
      .strict()
      .optional()
      .meta({ title: "Retry", description: "Backoff of this source's TRANSIENT retries (the spec's: 1 s, ×2, at most 5 min)" }),
  })
  .strict()
  .default({ batch_size: 1000, change_tracking: "cdc" });
