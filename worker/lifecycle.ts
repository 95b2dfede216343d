// Whether this worker process is shutting down (SIGTERM/SIGINT). Long-running jobs (streams)
// check it between batches: they write what they hold, release their lease, and return, so
// another worker takes over at once instead of after the lease expires.
let exiting = false;

export function markExiting(value = true) {
  exiting = value;
}

export function isExiting() {
  return exiting;
}
