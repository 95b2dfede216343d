// Builds the worker's bundle (worker/build.ts): `npm run worker` runs it first.
import { buildWorker } from "../worker/build.ts";

await buildWorker();
