// Connector types the product knows. A type declares its config schema (zod; exported as JSON
// Schema for the console's forms) and which config fields hold secrets. Adding a connector type is
// one folder under server/connectors/ and one entry here.
import { z } from "zod";
import { dropCaptureSql } from "./postgresql/capture.ts";
import { postgresConnectionIdentity, ZPostgresConfig } from "./postgresql/config.ts";
import { replicationNames } from "./postgresql/connection.ts";
import { POSTGRES_CAPABILITIES, PostgresConnector } from "./postgresql/connector.ts";
import { PG_CURSOR } from "./postgresql/lsn.ts";
import { classifyPostgresError } from "./postgresql/errors.ts";
import { MYSQL_CAPABILITIES, MysqlConnector } from "./mysql/connector.ts";
import { mysqlConnectionIdentity, ZMysqlConfig } from "./mysql/config.ts";
import { MYSQL_CURSOR } from "./mysql/binlog-cursor.ts";
import { classifyMysqlError } from "./mysql/errors.ts";
import type { SourceClassifier } from "../errors/origin.ts";
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
  /** What an operator can run on the source to remove what change capture set up there (a type that sets nothing up has none). */
  captureTeardownSql?: (sourceId: string) => string;
  /** The type's cursors: checked, normalised and ordered by the connector, opaque to everything else. */
  cursor: CursorCodec;
  /** Reads the type's own error codes (its driver's) into the pipeline's categories; classify() asks it first. */
  classifyError?: SourceClassifier;
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
    classifyError: classifyPostgresError,
    create: (context) => new PostgresConnector(context),
  },
  mysql: {
    type: "mysql",
    label: "MySQL / MariaDB",
    configSchema: ZMysqlConfig,
    secretFields: ["authentication.password_secret"],
    capabilities: MYSQL_CAPABILITIES,
    connectionIdentity: mysqlConnectionIdentity,
    cursor: MYSQL_CURSOR,
    classifyError: classifyMysqlError,
    create: (context) => new MysqlConnector(context),
  },
} satisfies Record<string, ConnectorType>;

export type ConnectorTypeName = keyof typeof CONNECTOR_TYPES;
export const CONNECTOR_TYPE_NAMES = Object.keys(CONNECTOR_TYPES) as [ConnectorTypeName, ...ConnectorTypeName[]];

export function connectorType(name: string): ConnectorType | undefined {
  return Object.hasOwn(CONNECTOR_TYPES, name) ? (CONNECTOR_TYPES as Record<string, ConnectorType>)[name] : undefined;
}

/**
 * Whether a source captures changes: its connector type can (capabilities.cdc) and its config asks
 * for it (the spec's options.change_tracking). The one place the pipeline and services ask.
 */
export function capturesChanges(config: { connector_type: string; options: { change_tracking?: string } }): boolean {
  return !!connectorType(config.connector_type)?.capabilities.cdc && config.options.change_tracking === "cdc";
}

/** Whether a source syncs by incremental runs (its connector type can, and its config asks for it). */
export function syncsIncrementally(config: { connector_type: string; options: { change_tracking?: string } }): boolean {
  return !!connectorType(config.connector_type)?.capabilities.incremental && config.options.change_tracking === "incremental";
}

/** The cursor codec of a registered connector type (its cursors are opaque to everything else). */
export function cursorCodec(name: string): CursorCodec {
  return connectorType(name)!.cursor;
}

/** The connection config accepted for any registered connector type, discriminated by connector_type (derived from the entries: a type added above is accepted here). */
type ConfigSchema = (typeof CONNECTOR_TYPES)[ConnectorTypeName]["configSchema"];
export const ZConnectorConfig = z
  .discriminatedUnion("connector_type", Object.values(CONNECTOR_TYPES).map((t) => t.configSchema) as unknown as [ConfigSchema, ...ConfigSchema[]])
  .superRefine((config, ctx) => {
    const { change_tracking, schedule } = config.options;
    const capabilities = connectorType(config.connector_type)!.capabilities;
    if (change_tracking === "incremental" && !capabilities.incremental) {
      ctx.addIssue({ code: "custom", path: ["options", "change_tracking"], message: `${config.connector_type} sources cannot sync incrementally yet: use "snapshot" with a schedule, or "cdc"` });
    }
    if (schedule && change_tracking === "cdc") {
      ctx.addIssue({ code: "custom", path: ["options", "schedule"], message: 'a schedule starts runs of a source without a change stream: set change_tracking to "incremental" (or "snapshot"), or remove the schedule' });
    }
  });
export type TConnectorConfig = z.infer<typeof ZConnectorConfig>;

export function configJsonSchema(name: string) {
  const t = connectorType(name);
  return t ? z.toJSONSchema(t.configSchema, { io: "input" }) : null;
}

/** The connection identity of a config of any registered type. */
export function connectionIdentity(config: TConnectorConfig): Record<string, string | number | null> {
  return (connectorType(config.connector_type)!.connectionIdentity as (c: TConnectorConfig) => Record<string, string | number | null>)(config);
}
