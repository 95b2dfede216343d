// After a very large value arrives (tens of megabytes in one row), what carried it is garbage worth
// about twice its size: node-postgres's message buffer, doubled and copied until the message fit,
// and the socket's chunks. They are ArrayBuffers outside the JS heap, which V8 collects only when
// its external-memory heuristics say so; meanwhile the next large value adds its own. So once
// such a value has been decoded (its text is all that is still needed), the worker asks for one
// full collection, on the next turn of the event loop. Only where the process was started with
// --expose-gc (workers are: worker/node-flags.ts); elsewhere this does nothing.
const LARGE_VALUE_CHARS = 16 << 20;

let pending = false;

export function collectAfterLargeValue(chars: number) {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (chars < LARGE_VALUE_CHARS || pending || typeof gc !== "function") return;
  pending = true;
  setImmediate(() => {
    pending = false;
    gc();
  });
}
