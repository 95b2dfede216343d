// Connector types the product knows. A type declares its config schema (zod; exported as JSON
// Schema for the console's forms) and which config fields hold secrets. Adding a connector type is
// one folder under server/connectors/ and one entry here.
import { z } from "zod";
import { dropCaptureSql } from "./postgresql/capture.ts";
import { postgresConnectionIdentity, ZPostgresConfig } from "./postgresql/config.ts";
import { replicationNames } from "./postgresql/connection.ts";
import { POSTGRES_CAPABILITIES, PostgresConnector } from "./postgresql/connector.ts";
import { PG_CURSOR } from "./postgresql/lsn.ts";
import type { ConnectorCapabilities, ConnectorContext, CursorCodec, ECMConnector } from "./types.ts";

export type ConnectorType = {
  type: string;
  label: string;
  configSchema: z.ZodType;
  /** Dotted paths of config fields that hold secret references (values typed in are encrypted). */
  secretFields: string[];
  capabilities: ConnectorCapabilities;
  /** The connection a secret of this config is bound to (see server/secrets/binding.ts). */
  connectionIdentity: (config: never) => Record<string, string | number | null>;
  /** SQL an operator can run on the source to remove what change capture set up there. */
  captureTeardownSql: (sourceId: string) => string;
  /** The type's cursors: checked, normalised and ordered by the connector, opaque to everything else. */
  cursor: CursorCodec;
  create: (context: ConnectorContext) => ECMConnector;
};

export const CONNECTOR_TYPES = {
  postgresql: {
    type: "postgresql",
    label: "PostgreSQL",
    configSchema: ZPostgresConfig,
    secretFields: ["authentication.password_secret"],
    capabilities: POSTGRES_CAPABILITIES,
    connectionIdentity: postgresConnectionIdentity,
    captureTeardownSql: (sourceId) => dropCaptureSql(replicationNames(sourceId)),
    cursor: PG_CURSOR,
    create: (context) => new PostgresConnector(context),
  },
} satisfies Record<string, ConnectorType>;

export type ConnectorTypeName = keyof typeof CONNECTOR_TYPES;
export const CONNECTOR_TYPE_NAMES = Object.keys(CONNECTOR_TYPES) as [ConnectorTypeName, ...ConnectorTypeName[]];

export function connectorType(name: string): ConnectorType | undefined {
  return Object.hasOwn(CONNECTOR_TYPES, name) ? (CONNECTOR_TYPES as Record<string, ConnectorType>)[name] : undefined;
}

/** The cursor codec of a registered connector type (its cursors are opaque to everything else). */
export function cursorCodec(name: string): CursorCodec {
  return connectorType(name)!.cursor;
}

/** The connection config accepted for any registered connector type, discriminated by connector_type. */
export const ZConnectorConfig = z.discriminatedUnion("connector_type", [ZPostgresConfig]);
export type TConnectorConfig = z.infer<typeof ZConnectorConfig>;

export function configJsonSchema(name: string) {
  const t = connectorType(name);
  return t ? z.toJSONSchema(t.configSchema, { io: "input" }) : null;
}

/** The connection identity of a config of any registered type. */
export function connectionIdentity(config: TConnectorConfig): Record<string, string | number | null> {
  return (connectorType(config.connector_type)!.connectionIdentity as (c: TConnectorConfig) => Record<string, string | number | null>)(config);
}
