// Node flags of worker processes (npm start, npm run worker, benchmarks alike).
// - A snapshot chunk is a few thousand short-lived objects; V8's default young generation is too
//   small for two chunks in flight, so they would be promoted and collected by full GCs (measured:
//   half the CPU at batch_size 10000). 16 MB semi-spaces keep a 1000-row chunk in cheap
//   scavenges; 32 MB bought no measurable speed at the default batch size and cost ~35 MB of peak
//   RSS (npm run bench cdc).
// - What is promoted anyway (chunks still committing) is garbage soon after; V8's default lets the
//   old generation grow to several times its live size between full GCs (measured: heap 184 MB
//   for ~70 MB live, worker RSS 320 MB on a 1M-row snapshot). Growing it by 30% at a time keeps
//   the RSS near 200 MB for about 5% of the snapshot's speed; unlike --max-old-space-size it sets
//   no limit a large value could hit.
// - --expose-gc: while a large protocol message arrives, its socket reads are collected as they
//   are copied (server/db/large-messages.ts), not left to pile up beside it.
export const WORKER_NODE_FLAGS = ["--max-semi-space-size=16", "--heap-growing-percent=30", "--expose-gc"];
