// The workbench's filter, kept in the URL, and the vocabulary its parts share.
export const STATUS_TONE = { open: "red", replayed: "green", discarded: "neutral" } as const;
export const CATEGORIES = ["DATA", "CONFIGURATION", "TRANSIENT", "FATAL"] as const;
export const STATUSES = ["open", "replayed", "discarded"] as const;

export type LetterFilter = ReturnType<typeof filterFrom>;

/** The filter kept in the URL. A hand-edited URL may hold anything: unknown values are dropped. */
export function filterFrom(params: URLSearchParams) {
  const get = (k: string) => params.get(k) || undefined;
  const status = STATUSES.find((s) => s === get("status")) ?? "open";
  const category = CATEGORIES.find((c) => c === get("category"));
  const since = get("since");
  return {
    status,
    ...(get("source_id") ? { source_id: get("source_id")! } : {}),
    ...(get("entity") ? { entity: get("entity")! } : {}),
    ...(category ? { category } : {}),
    ...(since && !Number.isNaN(Date.parse(since)) ? { since: new Date(since).toISOString() } : {}),
  };
}
