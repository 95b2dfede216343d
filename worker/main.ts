// Worker process entry: `npm run worker` (or started by npm start). Runs against the same
// DATABASE_URL and REDIS_URL as the web console, on this machine or another.
import { EnvError, env } from "../server/env.ts";
import { startWorker } from "./runtime.ts";
import { startDemoWriter } from "./demo-writer.ts";

try {
  env();
} catch (e) {
  if (e instanceof EnvError) {
    console.error(e.message);
    process.exit(1);
  }
  throw e;
}

const worker = await startWorker();
// The demo writer runs only in the worker npm start gives the demo database to (embedded defaults).
const demoUrl = process.env.ECM_DEMO_DATABASE_URL;
const demo = demoUrl && env().ECM_DEMO_WRITER === "on" ? startDemoWriter(demoUrl, env().ECM_DEMO_WRITER_MS) : null;
const stop = () => {
  Promise.all([demo?.stop(), worker.close()]).then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

// Started by `npm start`: if that supervisor is killed outright, stop cleanly rather than linger
// as an orphan. (A worker started on its own with `npm run worker` has no supervisor to watch.)
const supervisor = Number(process.env.ECM_SUPERVISOR_PID);
if (supervisor) {
  setInterval(() => {
    try {
      process.kill(supervisor, 0);
    } catch {
      stop();
    }
  }, 2000).unref();
}
