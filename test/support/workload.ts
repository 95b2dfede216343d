// A source workload for fault tests: one operation after another until stopped, riding out the
// source's absence (an operation a fault cut is the source's to keep or lose; the store must follow
// whatever the source kept).
export type Workload = { stop: () => Promise<void>; readonly count: number; readonly failed: number };

export function repeatUntilStopped(op: (n: number) => Promise<unknown>, pauseAfterFailureMs = 200): Workload {
  let on = true;
  let count = 0;
  let failed = 0;
  const done = (async () => {
    while (on) {
      count++;
      await op(count).catch(async () => {
        failed++;
        await new Promise((r) => setTimeout(r, pauseAfterFailureMs));
      });
    }
  })();
  return {
    stop: async () => {
      on = false;
      await done;
    },
    get count() {
      return count;
    },
    get failed() {
      return failed;
    },
  };
}
