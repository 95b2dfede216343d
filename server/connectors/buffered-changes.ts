// What every ChangeStream does the same way: changes received from the source wait in a buffer and
// are handed out as arrays of everything received so far (one await per array, not per change); a
// failure of the source ends the iteration with that error once the buffer is drained. A
// connector's stream extends it with how it reads the source, its backpressure and its acks.
import type { ChangeStream, SourceChange } from "./types.ts";

export abstract class BufferedChangeStream implements ChangeStream {
  protected buffer: SourceChange[] = [];
  protected ended = false;
  private failure: unknown = null;
  private wake: (() => void) | null = null;

  /** A change received, in order. */
  protected push(change: SourceChange) {
    this.buffer.push(change);
    this.wake?.();
    this.wake = null;
    this.afterPush();
  }

  /** The source is done (error: why); what was received is still handed out first. */
  protected end(error: unknown) {
    this.failure ??= error;
    this.ended = true;
    this.wake?.();
    this.wake = null;
  }

  /** After each push (a stream applies its backpressure here). */
  protected afterPush(): void {}
  /** The consumer took everything buffered (a stream releases its backpressure here). */
  protected drained(): void {}
  /** Whether more was received than handed out: the last commit's `more` batching hint. */
  protected moreReceived(): boolean {
    return false;
  }

  /** Hands out everything received so far, in order (at least one change), as one array. */
  async *[Symbol.asyncIterator](): AsyncIterator<SourceChange[]> {
    for (;;) {
      if (this.buffer.length) {
        const changes = this.buffer;
        this.buffer = [];
        this.drained();
        const last = changes[changes.length - 1]!;
        if (last.kind === "commit" && last.committed_at) last.more = this.moreReceived();
        yield changes;
        continue;
      }
      if (this.ended) {
        if (this.failure) throw this.failure;
        return;
      }
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  abstract ack(cursor: string): Promise<void>;
  abstract ping(): Promise<void>;
  abstract close(): Promise<void>;
}
