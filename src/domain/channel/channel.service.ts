import { isUniqueViolation } from '../../db/pg-errors.ts';
import { channels } from '../../db/schema.ts';
import { Conflict, NotFound } from '../../errors.ts';
import { maskSettings, mergeSettings } from '../../lib/settings-mask.ts';
import { lineScope } from '../access/access.repository.ts';
import type { Deps } from '../deps.ts';
import { lineRepository } from '../line/line.repository.ts';
import { compileSearch, type EntitySearchSpec, type SearchRequest } from '../search/filter.ts';
import { searchTable } from '../search/search.repository.ts';
import type { Caller } from '../user/user.ts';
import { type ChannelRow, channelRepository } from './channel.repository.ts';
import {
  CHANNEL_STATES,
  CHANNEL_TYPES,
  type ChannelState,
  type ChannelType,
  RECONNECTABLE_CHANNEL_TYPES,
} from './channel.ts';

export interface ChannelView {
  id: string;
  lineId: string;
  name: string;
  type: ChannelType;
  state: ChannelState;
  stateReason: string | null;
  source: string | null;
  /** Write-only: every value masked unless its provider declares it public. */
  settings: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
}

export const channelSearch: EntitySearchSpec = {
  fields: {
    id: { column: channels.id, kind: 'uuid', sortable: true },
    lineId: { column: channels.lineId, kind: 'uuid' },
    name: { column: channels.name, kind: 'text', sortable: true },
    type: { column: channels.type, kind: 'enum', values: CHANNEL_TYPES, sortable: true },
    state: { column: channels.state, kind: 'enum', values: CHANNEL_STATES, sortable: true },
    source: { column: channels.source, kind: 'text' },
    createdAt: { column: channels.createdAt, kind: 'timestamp', sortable: true },
    updatedAt: { column: channels.updatedAt, kind: 'timestamp', sortable: true },
    deletedAt: { column: channels.deletedAt, kind: 'timestamp', sortable: true },
  },
  aliases: { line: 'lineId' },
  defaultSort: [{ field: 'name', dir: 'asc' }],
  tieBreaker: channels.id,
  deletedField: 'deletedAt',
};

/** Decides which settings keys of a channel type are not secret (providers declare them). */
export type PublicSettingsKeys = (type: ChannelType) => readonly string[];

export class ChannelService {
  constructor(
    private readonly deps: Deps,
    private readonly publicKeys: PublicSettingsKeys = () => [],
  ) {}

  view(row: ChannelRow): ChannelView {
    const type = row.type as ChannelType;
    return {
      id: row.id,
      lineId: row.lineId,
      name: row.name,
      type,
      state: row.state as ChannelState,
      stateReason: row.stateReason,
      source: row.source,
      settings: maskSettings(this.settingsOf(row), this.publicKeys(type)),
      createdAt: row.createdAt.toISOString(),
      updatedAt: row.updatedAt.toISOString(),
      deletedAt: row.deletedAt?.toISOString() ?? null,
    };
  }

  /** The decrypted provider settings (for providers only; never sent to API callers). */
  settingsOf(row: ChannelRow): Record<string, unknown> {
    return this.deps.secrets.openJson<Record<string, unknown>>(row.settingsEnc) ?? {};
  }

  async row(id: string): Promise<ChannelRow> {
    const row = await channelRepository.byId(this.deps.db, id);
    if (!row) throw new NotFound('Channel', id);
    return row;
  }

  async get(id: string, caller: Caller): Promise<ChannelView> {
    const page = await this.search({ where: { field: 'id', op: 'eq', value: id } }, caller);
    if (!page.items[0]) throw new NotFound('Channel', id);
    return page.items[0];
  }

  async search(request: SearchRequest, caller: Caller) {
    const page = await searchTable(
      this.deps.db,
      channels,
      compileSearch(channelSearch, request),
      lineScope(caller, channels.lineId),
    );
    return { items: page.items.map((r) => this.view(r)), total: page.total };
  }

  async create(input: {
    lineId: string;
    name: string;
    type: ChannelType;
    source?: string | null;
    settings?: Record<string, unknown>;
  }): Promise<ChannelView> {
    const line = await lineRepository.byId(this.deps.db, input.lineId);
    if (!line || line.deletedAt) throw new NotFound('Line', input.lineId);
    const row = await this.#uniqueSource(() =>
      channelRepository.insert(this.deps.db, {
        lineId: input.lineId,
        name: input.name,
        type: input.type,
        source: input.source ?? null,
        settingsEnc: this.deps.secrets.sealJson(mergeSettings({}, input.settings ?? {})),
      }),
    );
    return this.view(row);
  }

  async update(
    id: string,
    input: { name?: string; source?: string | null; settings?: Record<string, unknown> },
  ): Promise<ChannelView> {
    const row = await this.deps.uow.run(async ({ db }) => {
      const current = await channelRepository.byId(db, id, { forUpdate: true });
      if (!current) throw new NotFound('Channel', id);
      return this.#uniqueSource(() =>
        channelRepository.update(db, id, {
          ...(input.name !== undefined && { name: input.name }),
          ...(input.source !== undefined && { source: input.source }),
          ...(input.settings && {
            settingsEnc: this.deps.secrets.sealJson(mergeSettings(this.settingsOf(current), input.settings)),
          }),
        }),
      );
    });
    return this.view(row);
  }

  async #uniqueSource<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (isUniqueViolation(err, 'channels_type_source_live_uq')) {
        throw new Conflict('CHANNEL_SOURCE_TAKEN', 'a live channel of this type already has this source', {
          field: 'source',
        });
      }
      throw err;
    }
  }

  /** Moves a channel to a new state, recording why, with a channel.stateChanged event. */
  async setState(id: string, to: ChannelState, reason: string | null): Promise<ChannelRow> {
    return this.deps.uow.run(async (tx) => {
      const current = await channelRepository.byId(tx.db, id, { forUpdate: true });
      if (!current) throw new NotFound('Channel', id);
      const row = await channelRepository.update(tx.db, id, { state: to, stateReason: reason });
      tx.emit('channel.stateChanged', id, {
        channelId: id,
        lineId: row.lineId,
        from: current.state,
        to,
        reason,
      });
      return row;
    });
  }

  async disconnect(id: string, reason: string | null = null): Promise<ChannelView> {
    const row = await this.row(id);
    if (row.state === 'disconnected') {
      throw new Conflict('CHANNEL_ALREADY_DISCONNECTED', 'the channel is already disconnected');
    }
    return this.view(await this.setState(id, 'disconnected', reason ?? 'disconnected by an administrator'));
  }

  async reconnect(id: string): Promise<ChannelView> {
    const row = await this.row(id);
    if (!RECONNECTABLE_CHANNEL_TYPES.includes(row.type as ChannelType)) {
      throw new Conflict(
        'CHANNEL_RECONNECT_NOT_SUPPORTED',
        `channels of type ${row.type} cannot be reconnected; only ${RECONNECTABLE_CHANNEL_TYPES.join(', ')}`,
        { type: row.type },
      );
    }
    if (row.state === 'active') throw new Conflict('CHANNEL_ALREADY_ACTIVE', 'the channel is already active');
    return this.view(await this.setState(id, 'active', null));
  }

  async remove(id: string): Promise<void> {
    await this.row(id);
    await channelRepository.update(this.deps.db, id, { deletedAt: new Date(), state: 'disconnected' });
  }
}
