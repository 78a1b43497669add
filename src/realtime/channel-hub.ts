/**
 * The node's channel index (`channel → subscribed connections`), fan-out, and subscribing at a stream
 * position with recovery.
 *
 * Subscribing without losing or repeating a publication (the race Centrifugo's PubSubSync solves):
 *   1. `join`: the connection is registered as *pending* on the channel — publications arriving from
 *      now on are buffered for it — and the node subscribes to the channel in the broker;
 *   2. `open`: once the broker subscription is active, read the stream position (and, when
 *      recovering, the missed publications) — everything published after that read reaches the
 *      buffer, since the subscription was already active;
 *   3. `activate` (synchronous, right before the reply is written): the connection becomes live, and
 *      the buffered publications newer than the position read are written after the reply.
 *
 * A publication is encoded once per channel and the same bytes are written to every subscriber.
 * Per channel the hub also remembers the last offset delivered: a hole in the sequence (pub/sub lost
 * messages) or a new epoch disconnects the channel's subscribers with 3010 "insufficient state", and
 * the SDK reconnects and recovers from history.
 */
import type { Broker, HistoryResult, Publication } from './broker.ts';
import { CONNECTED, type Connection, type Outbox, PubPush, SUB_LIVE, SUB_SERVER } from './connection.ts';
import {
  encodePubPush,
  encodeSubscribePush,
  encodeUnsubscribePush,
  type RecoverRequest,
  type SubscribeResult,
  UnsubscribeCodes,
} from './protocol.ts';

/** Marks a subscribing connection that buffered more than it may: it gets 3010 instead of a reply. */
const OVERFLOW: PubPush[] = [];

class ChannelEntry {
  readonly subscribers = new Set<Connection>();
  /** Connections subscribing, with the publications buffered for them. */
  pending: Map<Connection, PubPush[]> | null = null;
  /** Offset of the last publication this node received (0: none yet). */
  lastOffset = 0;
  /** Lowest position read by a subscriber before any publication was received (-1: none). */
  baseOffset = -1;
  epoch = '';
  ready: Promise<void> = Promise.resolve();
  constructor(readonly channelJson: string) {}
}

/** A subscription prepared by `open`, made live by `activate`. */
export interface Opening {
  channel: string;
  flags: number;
  result: SubscribeResult;
  /** Stream position read: buffered publications after it are delivered on activation. */
  top: number;
}

export class ChannelHub {
  private readonly channels = new Map<string, ChannelEntry>();

  constructor(
    private readonly broker: Broker,
    private readonly outbox: Outbox,
    /** Disconnects a connection whose position in a channel can no longer be trusted (3010). */
    private readonly invalidate: (conn: Connection) => void,
    private readonly maxRecovered: number,
  ) {}

  get channelCount(): number {
    return this.channels.size;
  }

  /** Steps 1 and 2. Throws when the broker fails (the connection is then no longer joined). */
  async open(conn: Connection, channel: string, flags: number, recover?: RecoverRequest): Promise<Opening> {
    const entry = this.join(conn, channel, flags);
    let hist: HistoryResult;
    const recovering = recover?.recover === true;
    try {
      await entry.ready;
      hist = recovering
        ? await this.broker.history(channel, {
            since: { offset: recover.offset, epoch: recover.epoch },
            limit: this.maxRecovered,
          })
        : await this.broker.history(channel, { limit: 0 });
    } catch (err) {
      this.leave(conn, channel);
      throw err;
    }
    const recovered = recovering && isRecovered(hist, recover.offset);
    const result: SubscribeResult = {
      epoch: hist.epoch,
      // After a recovery the reply carries the client's own position; the replayed publications move it.
      offset: recovered ? recover.offset : hist.offset,
      recovered,
      wasRecovering: recovering,
      publications: recovered ? hist.publications : [],
    };
    return { channel, flags, result, top: hist.offset };
  }

  /**
   * Step 3: the connection receives the channel's publications directly from now on. Returns the
   * buffered publications to write after the reply, or null when they do not continue the position
   * read (the connection must then be disconnected with 3010).
   */
  activate(conn: Connection, o: Opening): PubPush[] | null {
    const entry = this.channels.get(o.channel);
    const buffered = entry?.pending?.get(conn);
    if (!entry || buffered === undefined) return null; // left meanwhile
    const epoch = o.result.epoch;
    if (entry.epoch !== epoch) {
      // The stream was reborn (its metadata expired): positions in the old epoch are void.
      if (entry.epoch !== '') this.invalidateLive(entry);
      this.restart(entry, epoch);
    }
    entry.pending!.delete(conn);
    if (entry.pending!.size === 0) entry.pending = null;
    entry.subscribers.add(conn);
    conn.subs!.set(o.channel, o.flags | SUB_LIVE);
    if (entry.lastOffset === 0 && (entry.baseOffset < 0 || o.top < entry.baseOffset)) {
      entry.baseOffset = o.top;
    }
    if (buffered === OVERFLOW) return null;
    let expected = o.top + 1;
    const out: PubPush[] = [];
    for (const p of buffered) {
      if (p.epoch !== epoch) return null;
      if (p.offset < expected) continue;
      if (p.offset !== expected) return null;
      out.push(p);
      expected++;
    }
    return out;
  }

  /** Ends a subscription (live or pending); the node unsubscribes from the broker with the last one. */
  leave(conn: Connection, channel: string): void {
    conn.subs?.delete(channel);
    const entry = this.channels.get(channel);
    if (!entry) return;
    entry.subscribers.delete(conn);
    if (entry.pending?.delete(conn) && entry.pending.size === 0) entry.pending = null;
    if (entry.subscribers.size === 0 && entry.pending === null) {
      this.channels.delete(channel);
      this.broker.unsubscribe(channel, this.deliver).catch(() => undefined);
    }
  }

  leaveAll(conn: Connection): void {
    if (conn.subs === null) return;
    for (const channel of [...conn.subs.keys()]) this.leave(conn, channel);
  }

  /** The broker's handler for every channel (one function: no closure per channel or subscriber). */
  readonly deliver = (channel: string, pub: Publication, epoch: string): void => {
    const entry = this.channels.get(channel);
    if (!entry) return;
    if (entry.epoch !== epoch) {
      if (entry.epoch !== '') this.invalidateLive(entry); // the stream started a new life
      this.restart(entry, epoch);
    }
    const prev = entry.lastOffset > 0 ? entry.lastOffset : entry.baseOffset;
    if (prev >= 0) {
      if (pub.offset <= prev) return; // every subscriber already has it
      if (pub.offset !== prev + 1) this.invalidateLive(entry); // publications were lost on the way
    }
    entry.lastOffset = pub.offset;
    const push = new PubPush(encodePubPush(entry.channelJson, pub.offset, pub.data), pub.offset, epoch);
    for (const conn of entry.subscribers) this.outbox.write(conn, push);
    if (entry.pending !== null) this.buffer(entry.pending, push);
  };

  /**
   * After live delivery may have lost publications: a channel whose stream moved past what this node
   * delivered (or changed epoch) gets its subscribers disconnected to recover. A publication still in
   * flight can cause a needless reconnect, never a silent loss.
   */
  async resync(): Promise<void> {
    await Promise.all(
      [...this.channels].map(async ([channel, entry]) => {
        const prev = entry.lastOffset > 0 ? entry.lastOffset : entry.baseOffset;
        if (prev < 0) return;
        const top = await this.broker.history(channel, { limit: 0 }).catch(() => null);
        if (top && (top.epoch !== entry.epoch || top.offset > prev)) this.invalidateLive(entry);
      }),
    );
  }

  /** A server-initiated subscription (subscribe push) on a connected connection. */
  async serverSubscribe(conn: Connection, channel: string, maxSubscriptions: number): Promise<void> {
    if (conn.subs?.has(channel) || conn.subscriptionCount() >= maxSubscriptions) return;
    let o: Opening;
    try {
      o = await this.open(conn, channel, SUB_SERVER);
    } catch {
      return; // the broker failed: the subscription is simply not added
    }
    if (conn.state !== CONNECTED) return;
    const pubs = this.activate(conn, o);
    if (pubs === null) {
      this.invalidate(conn);
      return;
    }
    this.outbox.write(conn, encodeSubscribePush(channel, o.result));
    for (const p of pubs) this.outbox.write(conn, p);
  }

  /** Ends a subscription from the server side (unsubscribe push, code 2000). */
  serverUnsubscribe(conn: Connection, channel: string): void {
    if (!conn.subs?.has(channel)) return;
    this.leave(conn, channel);
    this.outbox.write(conn, encodeUnsubscribePush(channel, UnsubscribeCodes.server));
  }

  private join(conn: Connection, channel: string, flags: number): ChannelEntry {
    let entry = this.channels.get(channel);
    if (!entry) {
      entry = new ChannelEntry(JSON.stringify(channel));
      entry.ready = this.broker.subscribe(channel, this.deliver);
      entry.ready.catch(() => undefined); // awaited by every joiner; this only marks it handled
      this.channels.set(channel, entry);
    }
    if (entry.pending === null) entry.pending = new Map();
    entry.pending.set(conn, []);
    if (conn.subs === null) conn.subs = new Map();
    conn.subs.set(channel, flags);
    return entry;
  }

  /** Buffers for subscribing connections; one that falls too far behind must reconnect. */
  private buffer(pending: Map<Connection, PubPush[]>, push: PubPush): void {
    for (const [conn, buffered] of pending) {
      if (buffered === OVERFLOW) continue;
      if (buffered.length < this.maxRecovered) buffered.push(push);
      else pending.set(conn, OVERFLOW);
    }
  }

  private restart(entry: ChannelEntry, epoch: string): void {
    entry.epoch = epoch;
    entry.lastOffset = 0;
    entry.baseOffset = -1;
  }

  private invalidateLive(entry: ChannelEntry): void {
    for (const conn of [...entry.subscribers]) this.invalidate(conn);
  }
}

/** Every missed publication is there: the first follows the client's offset, the last is the top. */
function isRecovered(hist: HistoryResult, offset: number): boolean {
  if (hist.unrecoverable) return false;
  const pubs = hist.publications;
  if (pubs.length === 0) return hist.offset === offset;
  return pubs[0]!.offset === offset + 1 && pubs[pubs.length - 1]!.offset === hist.offset;
}
