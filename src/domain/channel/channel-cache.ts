/**
 * A short-lived cache of channel rows for the hot paths (one SELECT saved per message or opened
 * session). Entries live `ttlMs`. Any change of a channel (its state, settings, name, deletion)
 * drops the row at once on this node, and — through the broker's node-to-node control messages —
 * on every other node (`syncAcross`), so a re-keyed channel refuses its old secret from the next
 * webhook on. The TTL only bounds how long a lost control message could leave a stale row.
 */
import type { Db } from '../../db/client.ts';
import type { EventBus } from '../events/domain-events.ts';
import { type ChannelRow, channelRepository } from './channel.repository.ts';

/** The control message that tells every node a channel changed. */
const CHANGED = 'channel.changed';

/** The part of the realtime broker this cache uses. */
export interface ControlBus {
  publishControl(message: string): Promise<void>;
  onControl(handler: (message: string) => void): void;
}

export class ChannelCache {
  readonly #rows = new Map<string, { row: ChannelRow | undefined; until: number }>();
  #peers: ControlBus | null = null;
  /** Bumped by every change heard of: a row read while a change was on its way is not kept. */
  #generation = 0;

  constructor(
    private readonly db: Db,
    bus: EventBus,
    private readonly ttlMs = 1000,
  ) {
    bus.on('channel.stateChanged', (e) => this.#changed(e.payload.channelId));
    bus.on('channel.updated', (e) => this.#changed(e.payload.channelId));
  }

  /** Tells the other nodes of each change, and hears of theirs. */
  syncAcross(peers: ControlBus): void {
    this.#peers = peers;
    peers.onControl((message) => {
      if (!message.includes(CHANGED)) return;
      try {
        const m = JSON.parse(message) as { op?: unknown; channelId?: unknown };
        if (m.op === CHANGED && typeof m.channelId === 'string') this.#forget(m.channelId);
      } catch {
        // not ours
      }
    });
  }

  async get(id: string): Promise<ChannelRow | undefined> {
    const now = Date.now();
    const hit = this.#rows.get(id);
    if (hit && hit.until > now) return hit.row;
    const generation = this.#generation;
    const row = await channelRepository.byId(this.db, id);
    if (generation !== this.#generation) return row;
    if (this.#rows.size > 10_000) this.#rows.clear();
    this.#rows.set(id, { row, until: now + this.ttlMs });
    return row;
  }

  #forget(channelId: string): void {
    this.#generation++;
    this.#rows.delete(channelId);
  }

  #changed(channelId: string): void {
    this.#forget(channelId);
    void this.#peers?.publishControl(JSON.stringify({ op: CHANGED, channelId })).catch(() => {
      // The broker is down: the other nodes see the change within ttlMs.
    });
  }
}
