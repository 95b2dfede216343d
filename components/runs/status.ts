/** A run that is still queued or running (its figures will change). */
export const runActive = (status: string | undefined) => status === "queued" || status === "running";
