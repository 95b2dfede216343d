// A page asked for before the consumer wants it (so the source reads it while the last one is
// mapped and written) may fail while nobody awaits it yet: the source crashing mid-snapshot
// rejects it while the reader is suspended at a yield. Node reports a rejection with no handler
// at that moment as unhandled (a worker started with --unhandled-rejections=throw would die), so
// the prefetched promise is marked handled here; whoever awaits it later still gets the error.
export function prefetch<T>(page: Promise<T>): Promise<T> {
  page.catch(() => {});
  return page;
}
