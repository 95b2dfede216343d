/** A run that is still queued or running (its figures will change). */
export const runActive = (status: string | undefined) => status === "queued" || status === "running";

/** A run waiting out a TRANSIENT failure's backoff (its `error` is what is retried). */
export const runRetrying = (run: { status: string; retry: { next_at: string | null } }) => runActive(run.status) && run.retry.next_at !== null;
