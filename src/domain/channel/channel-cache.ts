/**
 * A short-lived cache of channel rows for the hot paths (one SELECT saved per message or opened
 * session).
 * Entries live `ttlMs` and are dropped at once on this node's channel changes; another node's
 * change is seen within `ttlMs`.
 */
import type { Db } from '../../db/client.ts';
import type { EventBus } from '../events/domain-events.ts';
import { type ChannelRow, channelRepository } from './channel.repository.ts';

export class ChannelCache {
  readonly #rows = new Map<string, { row: ChannelRow | undefined; until: number }>();

  constructor(
    private readonly db: Db,
    bus: EventBus,
    private readonly ttlMs = 1000,
  ) {
    bus.on('channel.stateChanged', (e) => this.#rows.delete(e.payload.channelId));
  }

  async get(id: string): Promise<ChannelRow | undefined> {
    const now = Date.now();
    const hit = this.#rows.get(id);
    if (hit && hit.until > now) return hit.row;
    const row = await channelRepository.byId(this.db, id);
    if (this.#rows.size > 10_000) this.#rows.clear();
    this.#rows.set(id, { row, until: now + this.ttlMs });
    return row;
  }
}
