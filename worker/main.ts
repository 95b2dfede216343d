// Worker process entry: `npm run worker` (or started by npm start). Runs against the same
// DATABASE_URL and REDIS_URL as the web console, on this machine or another.
import { EnvError, env } from "../server/env.ts";
import { startWorker } from "./runtime.ts";

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
const stop = () => {
  worker.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
