/**
 * The single-node broker: streams in this process's memory. Every stream gets a random epoch when it
 * is created, so after a restart clients that recover get `recovered: false` — correct, because the
 * history they would need is gone.
 */
import {
  type Broker,
  type HistoryQuery,
  type HistoryResult,
  historyRange,
  newEpoch,
  type Publication,
  type PublicationHandler,
  type PublishOptions,
  type StreamPosition,
} from './broker.ts';

interface Stream {
  epoch: string;
  top: number;
  /** The newest publications, oldest first; may hold up to 2 × `size` between trims. */
  pubs: Publication[];
  size: number;
  historyExpiresAt: number;
  metaExpiresAt: number;
}

export interface MemoryBrokerOptions {
  /** How long a stream's epoch and offset outlive its last use (default 7 days). */
  metaTtlMs?: number;
  /** How often expired streams are dropped (default 60 s). */
  sweepIntervalMs?: number;
  now?: () => number;
}

export class MemoryBroker implements Broker {
  private readonly streams = new Map<string, Stream>();
  private readonly handlers = new Map<string, Set<PublicationHandler>>();
  private readonly controls = new Set<(message: string) => void>();
  private readonly metaTtlMs: number;
  private readonly now: () => number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(opts: MemoryBrokerOptions = {}) {
    this.metaTtlMs = opts.metaTtlMs ?? 7 * 24 * 3600_000;
    this.now = opts.now ?? Date.now;
    this.sweeper = setInterval(() => this.sweep(), opts.sweepIntervalMs ?? 60_000).unref();
  }

  async ready(): Promise<void> {}

  async publish(channel: string, data: string, opts: PublishOptions): Promise<StreamPosition> {
    return this.append(channel, data, opts, this.now());
  }

  async publishMany(
    channels: string[],
    data: string,
    opts: (channel: string) => PublishOptions,
  ): Promise<void> {
    const now = this.now();
    for (const channel of channels) this.append(channel, data, opts(channel), now);
  }

  private append(channel: string, data: string, opts: PublishOptions, now: number): StreamPosition {
    const s = this.stream(channel, now);
    s.top += 1;
    const pub: Publication = { offset: s.top, data };
    if (opts.historySize > 0) {
      s.pubs.push(pub);
      s.size = opts.historySize;
      if (s.pubs.length >= 2 * s.size) s.pubs.splice(0, s.pubs.length - s.size);
      s.historyExpiresAt = now + opts.historyTtlMs;
    } else {
      s.pubs = []; // keeping older ones would break contiguity: nothing before this one is recoverable
    }
    const handlers = this.handlers.get(channel);
    if (handlers) for (const h of handlers) h(channel, pub, s.epoch);
    return { offset: s.top, epoch: s.epoch };
  }

  async history(channel: string, q: HistoryQuery): Promise<HistoryResult> {
    const s = this.stream(channel, this.now());
    const retained = Math.min(s.pubs.length, s.size);
    const range = historyRange(s.top, s.epoch, retained, q);
    const result: HistoryResult = { offset: s.top, epoch: s.epoch, publications: [] };
    if (range === 'unrecoverable') result.unrecoverable = true;
    else if (range !== 'none') {
      // pubs[last] has offset `top`, so offset o sits at index last - (top - o).
      const last = s.pubs.length - 1;
      const pubs = s.pubs.slice(last - (s.top - range.lo), last - (s.top - range.hi) + 1);
      result.publications = q.reverse ? pubs.reverse() : pubs;
    }
    return result;
  }

  async subscribe(channel: string, handler: PublicationHandler): Promise<void> {
    const set = this.handlers.get(channel);
    if (set) set.add(handler);
    else this.handlers.set(channel, new Set([handler]));
  }

  async unsubscribe(channel: string, handler: PublicationHandler): Promise<void> {
    const set = this.handlers.get(channel);
    if (!set) return;
    set.delete(handler);
    if (set.size === 0) this.handlers.delete(channel);
  }

  async publishControl(message: string): Promise<void> {
    queueMicrotask(() => {
      for (const h of this.controls) h(message);
    });
  }

  onControl(handler: (message: string) => void): void {
    this.controls.add(handler);
  }

  onResync(_handler: () => void): void {
    // Nothing is ever lost in process: there is never a resync.
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.handlers.clear();
    this.controls.clear();
  }

  /** The live stream of a channel, created (new epoch) when absent or expired; touching it keeps it. */
  private stream(channel: string, now: number): Stream {
    let s = this.streams.get(channel);
    if (s && now > s.metaExpiresAt) s = undefined;
    if (!s) {
      s = { epoch: newEpoch(), top: 0, pubs: [], size: 0, historyExpiresAt: 0, metaExpiresAt: 0 };
      this.streams.set(channel, s);
    } else if (s.pubs.length > 0 && now > s.historyExpiresAt) {
      s.pubs = [];
    }
    s.metaExpiresAt = now + this.metaTtlMs;
    return s;
  }

  private sweep(): void {
    const now = this.now();
    for (const [channel, s] of this.streams) {
      if (now > s.metaExpiresAt) this.streams.delete(channel);
      else if (s.pubs.length > 0 && now > s.historyExpiresAt) s.pubs = [];
    }
  }
}
