// A fresh database on the MySQL test server (MYSQL_TEST_URL: the MariaDB global-setup starts, or
// one given), with the config a source of the product uses to read it.
import mysql from "mysql2/promise";

export type MysqlSource = { config: Record<string, unknown>; exec: (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>; url: string };

/** Runs SQL on `url` (a connection per call: tests issue few statements, and no state is shared). */
export function mysqlExec(url: string) {
  return async (sql: string, params: unknown[] = []) => {
    const c = await mysql.createConnection({ uri: url, charset: "utf8mb4", supportBigNumbers: true, bigNumberStrings: true, dateStrings: true });
    try {
      const [rows] = await c.query(sql, params);
      return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
    } finally {
      await c.end();
    }
  };
}

export async function createMysqlDatabase(name: string, serverUrl = process.env.MYSQL_TEST_URL!, setupSql: string[] = []): Promise<MysqlSource> {
  const server = new URL(serverUrl);
  const admin = mysqlExec(serverUrl);
  await admin(`DROP DATABASE IF EXISTS \`${name}\``);
  await admin(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  const url = Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString();
  const exec = mysqlExec(url);
  for (const sql of setupSql) await exec(sql);
  return {
    url,
    exec,
    config: {
      connector_type: "mysql",
      connection: { host: server.hostname, port: Number(server.port || 3306), database: name, ssl_mode: "disable" },
      authentication: { type: "credentials", username: decodeURIComponent(server.username), password_secret: "env://ECM_SOURCE_TEST_MYSQL_PASSWORD" },
      options: { batch_size: 1000, change_tracking: "cdc" },
    },
  };
}
