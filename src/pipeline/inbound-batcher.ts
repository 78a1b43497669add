/**
 * Group commit for the batched ingest statement (domain/message/message-batch.repository.ts): the
 * pipeline keeps only this scheduler. Messages arriving while earlier statements are in flight are
 * queued and written together by the next one; alone, a message is sent at once. If a batch fails as
 * a whole, its messages are retried one by one, so one bad message never fails another's answer.
 */
import type { Db } from '../db/client.ts';
import {
  type FastPathMessage,
  type FastPathResult,
  insertMessageBatch,
} from '../domain/message/message-batch.repository.ts';

interface Pending {
  message: FastPathMessage;
  resolve(result: FastPathResult): void;
  reject(err: unknown): void;
}

/**
 * Group commit for the fast path: at most `maxInFlight` statements at a time; whatever arrives
 * meanwhile waits for the next one (up to `maxBatch` messages per statement).
 */
export class InboundBatcher {
  #queue: Pending[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(
    private readonly db: Db,
    private readonly maxInFlight = 8,
    private readonly maxBatch = 64,
  ) {}

  write(message: FastPathMessage): Promise<FastPathResult> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ message, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.maxInFlight || this.#queue.length === 0) return;
    // Let the messages parsed in this turn of the event loop join the statement.
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      while (this.#inFlight < this.maxInFlight && this.#queue.length > 0) {
        void this.#flush(this.#queue.splice(0, this.maxBatch));
      }
    });
  }

  async #flush(batch: Pending[]): Promise<void> {
    this.#inFlight++;
    try {
      const results = await insertMessageBatch(
        this.db,
        batch.map((p) => p.message),
      );
      for (const [i, p] of batch.entries()) p.resolve(results[i]!);
    } catch (err) {
      if (batch.length === 1) batch[0]!.reject(err);
      // One statement for all failed: each message gets its own answer.
      else
        await Promise.all(
          batch.map((p) => insertMessageBatch(this.db, [p.message]).then(([r]) => p.resolve(r!), p.reject)),
        );
    } finally {
      this.#inFlight--;
      this.#schedule();
    }
  }
}
