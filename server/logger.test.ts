import { afterEach, describe, expect, it } from "vitest";
import { addLogContext, addLogSink, logger, withLogContext } from "./logger.ts";

describe("logs", () => {
  let remove: (() => void) | undefined;
  afterEach(() => remove?.());
  const capture = () => {
    const lines: string[] = [];
    remove = addLogSink((l) => lines.push(l));
    return lines;
  };

  it("writes one JSON line per event with level, component and message", () => {
    const lines = capture();
    logger("test").info({ source_id: "s1" }, "hello");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "info", component: "test", source_id: "s1", msg: "hello" });
  });

  it("redacts secret fields by path down to four levels, whatever their parent is called", () => {
    const lines = capture();
    logger("test").warn(
      {
        config: { authentication: { password: "canary-1" } },
        headers: { authorization: "Bearer canary-2", cookie: "sid=canary-3" },
        token: "canary-4",
        a: { b: { c: { api_key: "canary-5" } } },
      },
      "connecting",
    );
    const line = lines.find((l) => l.includes("connecting"))!;
    for (const canary of ["canary-1", "canary-2", "canary-3", "canary-4", "canary-5"]) expect(line).not.toContain(canary);
    expect(JSON.parse(line)).toMatchObject({ config: { authentication: { password: "[redacted]" } }, headers: { authorization: "[redacted]" }, token: "[redacted]" });
  });

  it("redacts by name what no fixed path knows: any secret-looking field, any type (second security pass, finding 4)", () => {
    const lines = capture();
    logger("test").info({ row: { db_password: "canary-6", accessToken: "canary-7", "x-api-key": 12345678, creds: { pin: 1 } }, db_credentials: { user: "canary-8" }, ok: "visible" }, "row");
    const line = lines.find((l) => l.includes('"row"'))!;
    for (const canary of ["canary-6", "canary-7", "12345678", "canary-8"]) expect(line).not.toContain(canary);
    expect(JSON.parse(line)).toMatchObject({ row: { db_password: "[redacted]", accessToken: "[redacted]", "x-api-key": "[redacted]" }, db_credentials: "[redacted]", ok: "visible" });
  });

  it("shows secret references, which say where a secret lives, not what it is", () => {
    const lines = capture();
    logger("test").info({ config: { authentication: { password_secret: "env://PG_PASSWORD" } } }, "saved");
    expect(JSON.parse(lines[0]!).config.authentication.password_secret).toBe("env://PG_PASSWORD");
  });

  it("logs an error's type, message and code, not the values a driver attaches to it", () => {
    const lines = capture();
    const error = Object.assign(new Error("duplicate key"), { code: "23505", parameters: ["canary-row"] });
    logger("test").error({ error }, "write failed");
    const logged = JSON.parse(lines[0]!).error;
    expect(logged).toMatchObject({ type: "Error", message: "duplicate key", code: "23505" });
    expect(lines[0]).not.toContain("canary-row");
  });

  it("adds a job's run, source and job ids to every line logged inside its context", async () => {
    const lines = capture();
    await withLogContext({ job_id: "7", run_id: "r1", source_id: "s1" }, async () => {
      await Promise.resolve();
      logger("deep.module").info("inside");
    });
    logger("test").info("outside");
    expect(JSON.parse(lines[0]!)).toMatchObject({ job_id: "7", run_id: "r1", source_id: "s1", component: "deep.module" });
    expect(JSON.parse(lines[1]!)).not.toHaveProperty("run_id");
  });

  it("takes fields a job learns later (a stream's run id) into its context, and only its own", async () => {
    const lines = capture();
    await Promise.all([
      withLogContext({ job_id: "a" }, async () => {
        await Promise.resolve();
        addLogContext({ run_id: "run-a" });
        await new Promise((r) => setTimeout(r, 5));
        logger("test").info("a");
      }),
      withLogContext({ job_id: "b" }, async () => {
        await new Promise((r) => setTimeout(r, 10));
        logger("test").info("b");
      }),
    ]);
    const byMsg = Object.fromEntries(lines.map((l) => [JSON.parse(l).msg, JSON.parse(l)]));
    expect(byMsg.a).toMatchObject({ job_id: "a", run_id: "run-a" });
    expect(byMsg.b).toMatchObject({ job_id: "b" });
    expect(byMsg.b).not.toHaveProperty("run_id");
  });

  it("adds nothing outside a job", async () => {
    const lines = capture();
    await (async () => {
      addLogContext({ run_id: "stray" });
      await Promise.resolve();
      logger("test").info("after");
    })();
    expect(JSON.parse(lines[0]!)).not.toHaveProperty("run_id");
  });

  it("keeps a line's own fields out of the job's later lines", () => {
    const lines = capture();
    withLogContext({ run_id: "r1" }, () => {
      logger("test").warn({ attempt: 2, error: new Error("boom") }, "retrying");
      logger("test").info("recovered");
    });
    expect(JSON.parse(lines[0]!)).toMatchObject({ run_id: "r1", attempt: 2 });
    const later = JSON.parse(lines[1]!);
    expect(later).toMatchObject({ run_id: "r1", msg: "recovered" });
    expect(later).not.toHaveProperty("attempt");
    expect(later).not.toHaveProperty("error");
  });
});
