/**
 * Channel streams with history, and live delivery between nodes.
 *
 * A stream is named by its channel; each publication gets the next `offset` (1, 2, …) and the stream
 * has an `epoch`, a string naming this life of the stream: when the stream's state is lost (history
 * expired together with its metadata, an in-memory node restarted) it starts again from offset 1
 * under a new epoch, so a client's old position can never be mistaken for a position in the new one.
 *
 * Recovery contract: `history` with `since` either returns every publication after that position (up
 * to `limit`), or says `unrecoverable` and returns none — never a partial replay with a hidden gap.
 */
import { randomBytes } from 'node:crypto';
import type { WirePublication } from './protocol.ts';

export interface StreamPosition {
  offset: number;
  epoch: string;
}

/** A publication; `data` is JSON text. */
export type Publication = WirePublication;

export interface PublishOptions {
  /** How many publications the stream keeps (0 keeps none: nothing can be recovered). */
  historySize: number;
  /** How long the kept publications live after the last publication. */
  historyTtlMs: number;
}

export interface HistoryQuery {
  /** Publications after this position (forward) or before it (reverse). */
  since?: StreamPosition;
  /** 0: none, only the stream position; -1: every retained one; N: at most N. */
  limit: number;
  /** Newest first. */
  reverse?: boolean;
}

export interface HistoryResult extends StreamPosition {
  /** In stream order (oldest first), or newest first when `reverse`. */
  publications: Publication[];
  /**
   * Set when `since` cannot be continued from: another epoch, a position ahead of the stream, or
   * publications after it that are no longer retained. `publications` is then empty.
   */
  unrecoverable?: true;
}

/** Live delivery to this node: every publication of a subscribed channel, in offset order. */
export type PublicationHandler = (channel: string, pub: Publication, epoch: string) => void;

export interface Broker {
  /** Resolves once the broker is connected and receives control messages (await it at start). */
  ready(): Promise<void>;
  publish(channel: string, data: string, opts: PublishOptions): Promise<StreamPosition>;
  /** The same publication on many channels (one event for every operator of a line), in one call. */
  publishMany(channels: string[], data: string, opts: (channel: string) => PublishOptions): Promise<void>;
  /** Reading a stream that never had a publication creates its epoch, so the position is stable. */
  history(channel: string, query: HistoryQuery): Promise<HistoryResult>;
  /** Resolves once publications on the channel are delivered (so history read after it misses nothing). */
  subscribe(channel: string, handler: PublicationHandler): Promise<void>;
  unsubscribe(channel: string, handler: PublicationHandler): Promise<void>;
  /** Node-to-node messages (every node, this one included, receives them). */
  publishControl(message: string): Promise<void>;
  onControl(handler: (message: string) => void): void;
  /**
   * Called when live delivery may have lost publications (the Redis subscriber reconnected): the
   * gateway then checks every channel it holds against its stream position.
   */
  onResync(handler: () => void): void;
  close(): Promise<void>;
}

/** The inclusive offset range a history query selects from the retained range, or a verdict. */
export type HistoryRange = { lo: number; hi: number } | 'none' | 'unrecoverable';

/**
 * Pure range arithmetic shared by both brokers (the Redis Lua script mirrors it): the stream keeps
 * offsets `[top - retained + 1, top]`, always contiguous.
 */
export function historyRange(top: number, epoch: string, retained: number, q: HistoryQuery): HistoryRange {
  const oldest = top - retained + 1;
  let lo = oldest;
  let hi = top;
  if (q.since) {
    if ((q.since.epoch !== '' && q.since.epoch !== epoch) || q.since.offset > top) return 'unrecoverable';
    if (q.reverse) hi = Math.min(top, q.since.offset - 1);
    else {
      if (q.since.offset < oldest - 1) return 'unrecoverable';
      lo = q.since.offset + 1;
    }
  }
  if (q.limit === 0 || lo > hi) return 'none';
  if (q.limit > 0) {
    if (q.reverse) lo = Math.max(lo, hi - q.limit + 1);
    else hi = Math.min(hi, lo + q.limit - 1);
  }
  return { lo, hi };
}

const EPOCH_PREFIX = randomBytes(6).toString('hex');
let epochSeq = 0;

/**
 * A fresh epoch, unique across processes and restarts (a random per-process prefix and a counter —
 * cheap enough to pass one to every publish script). No spaces: the Redis wire format relies on it.
 */
export function newEpoch(): string {
  epochSeq++;
  return EPOCH_PREFIX + epochSeq.toString(36);
}
