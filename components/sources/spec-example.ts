// The connection configuration example of the ECM connector specification, offered as a start.
export const SPEC_EXAMPLE_CONFIG = {
  connector_type: "postgresql",
  connection: { host: "db.example.com", port: 5432, database: "production", ssl_mode: "require" },
  authentication: { type: "credentials", username: "ecm_reader", password_secret: "vault://db/postgres/password" },
  options: { batch_size: 1000, change_tracking: "cdc" },
};
