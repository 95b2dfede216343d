// What the console and the status API show of a running stream's capture: whether it exists and
// is read, its state, what the source was told is durable, the change log it retains and the lag
// (bytes from the source; seconds since the last change applied while the stream is behind).
import type { CaptureStatus } from "../../connectors/types.ts";
import { ownerUpdate } from "../../store/streams.ts";

export async function recordCaptureStatus(sourceId: string, token: bigint, status: CaptureStatus, lagSeconds: number) {
  await ownerUpdate(sourceId, token, {
    slot_state: JSON.stringify({
      name: status.name,
      exists: status.exists,
      active: status.active,
      state: status.state,
      position: status.confirmed_cursor,
      retained_bytes: status.retained_bytes,
      lag_bytes: status.lag_bytes,
      lag_seconds: Math.round(lagSeconds * 10) / 10,
      observed_at: new Date().toISOString(),
    }),
  });
}
