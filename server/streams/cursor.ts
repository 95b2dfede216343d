// Cursors as API input: any connector's `<kind>:<position>` text, bounded. What a cursor means is
// the connector's business (server/connectors/types.ts CursorCodec): the service that takes one
// parses it with the source's codec, which names the field when it is malformed.
import { z } from "zod";
import { cursorCodec } from "../connectors/registry.ts";
import type { CursorCodec } from "../connectors/types.ts";
import { getSource } from "../sources/service.ts";

export const ZCursor = z
  .string()
  // Long enough for a MySQL GTID set (one uuid:interval per server that ever wrote), bounded.
  .max(4096)
  // Printable and without spaces; the source's codec then says what its cursors look like.
  .regex(/^[\x21-\x7e]+$/, "must be a cursor of the source's connector (printable, no spaces; its capabilities' cursor_format)");

/** The cursor codec of a source's connector type. */
export async function cursorCodecOf(sourceId: string): Promise<CursorCodec> {
  return cursorCodec((await getSource(sourceId)).connector_type);
}
