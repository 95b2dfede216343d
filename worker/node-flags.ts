// Node flags of worker processes (npm start, npm run worker, benchmarks alike). A snapshot chunk
// is a few thousand short-lived objects; V8's default young generation is too small for two chunks
// in flight, so they would be promoted and collected by full GCs (measured: half the CPU at
// batch_size 10000). 16 MB semi-spaces keep a 1000-row chunk in cheap scavenges; 32 MB bought no
// measurable speed at the default batch size and cost ~35 MB of peak RSS (npm run bench cdc).
export const WORKER_NODE_FLAGS = ["--max-semi-space-size=16"];
