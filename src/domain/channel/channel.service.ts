import { randomUUID } from 'node:crypto';
import { isUniqueViolation } from '../../db/pg-errors.ts';
import { channels } from '../../db/schema.ts';
import { AppError, Conflict, InvalidField, NotFound, Unprocessable } from '../../errors.ts';
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
import { type ChannelLifecycle, noLifecycle } from './channel-lifecycle.ts';

export interface ChannelView {
  id: string;
  lineId: string;
  name: string;
  type: string;
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

/** Closes an open session as the system, with the reason in its history (SessionService.apply). */
export type CloseSession = (sessionId: string, reason: string) => Promise<unknown>;

/**
 * Closes each of the sessions as the system, saying why. A session closed meanwhile by someone else
 * (409: already closed) is left as it is.
 */
export async function closeSessions(ids: string[], reason: string, close: CloseSession): Promise<void> {
  for (const id of ids) {
    await close(id, reason).catch((err: unknown) => {
      if (!(err instanceof AppError && err.status === 409)) throw err;
    });
  }
}

export class ChannelService {
  constructor(
    private readonly deps: Deps,
    private readonly lifecycle: ChannelLifecycle = noLifecycle,
    private readonly closeSession?: CloseSession,
  ) {}

  view(row: ChannelRow): ChannelView {
    const type = row.type as ChannelType;
    const settings = this.settingsOf(row);
    return {
      id: row.id,
      lineId: row.lineId,
      name: row.name,
      type,
      state: row.state as ChannelState,
      stateReason: row.stateReason,
      source: row.source,
      settings: maskSettings(settings, this.lifecycle.publicSettings(type, settings)),
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

  #checkType(type: string): void {
    const known = [...new Set([...CHANNEL_TYPES, ...this.lifecycle.channelTypes()])];
    if (!known.includes(type)) throw new InvalidField('body.type', `must be one of ${known.join(', ')}`);
    this.#checkProvider(type);
  }

  /**
   * A channel needs a provider for its type: without one nothing can arrive through it and no
   * operator could ever reply into its sessions. The LineChannelTypes without a built-in provider
   * (internal and support among them) wait for a plugin's.
   */
  #checkProvider(type: string): void {
    const available = this.lifecycle.providerTypes();
    if (available === null || available.includes(type)) return;
    throw new Unprocessable(
      'NO_PROVIDER_FOR_TYPE',
      `no provider serves channels of type "${type}"; the types with a provider are ${available.join(', ')}`,
      { field: 'type', type, available },
    );
  }

  /**
   * Creates a channel: settings validated by its provider, then registered with the messenger
   * (credentials checked, source learned, webhook set) before anything is written.
   */
  async create(input: {
    lineId: string;
    name: string;
    type: string;
    source?: string | null;
    settings?: Record<string, unknown>;
  }): Promise<ChannelView> {
    this.#checkType(input.type);
    const line = await lineRepository.byId(this.deps.db, input.lineId);
    if (!line || line.deletedAt) throw new NotFound('Line', input.lineId);
    const settings = this.lifecycle.validateSettings(input.type, mergeSettings({}, input.settings ?? {}));
    const draft = this.#draft({
      id: randomUUID(),
      lineId: input.lineId,
      name: input.name,
      type: input.type,
      source: input.source ?? null,
    });
    const registered = await this.lifecycle.register(draft, settings);
    const row = await this.#uniqueSource(() =>
      this.deps.uow.run(async (tx) => {
        const created = await channelRepository.insert(tx.db, {
          id: draft.id,
          lineId: input.lineId,
          name: input.name,
          type: input.type,
          source: registered.source,
          settingsEnc: this.deps.secrets.sealJson(registered.settings),
        });
        tx.emit('channel.stateChanged', created.id, {
          channelId: created.id,
          lineId: created.lineId,
          from: 'new',
          to: 'active',
          reason: null,
        });
        return created;
      }),
    );
    return this.view(row);
  }

  #draft(v: { id: string; lineId: string; name: string; type: string; source: string | null }): ChannelRow {
    const now = this.deps.clock.now();
    return {
      ...v,
      state: 'active',
      stateReason: null,
      settingsEnc: null,
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
    };
  }

  /**
   * Changes a channel; new settings are validated and, on an active channel, registered again. A
   * channel in `error` (its messenger refused the credentials) whose new settings register becomes
   * active again.
   */
  async update(
    id: string,
    input: { name?: string; source?: string | null; settings?: Record<string, unknown> },
  ): Promise<ChannelView> {
    const current = await this.row(id);
    let settingsEnc: string | undefined;
    let source = input.source;
    if (input.settings) {
      let settings = this.lifecycle.validateSettings(
        current.type,
        mergeSettings(this.settingsOf(current), input.settings),
      );
      if (current.state === 'active' || current.state === 'error') {
        const registered = await this.lifecycle.register(
          { ...current, source: source ?? current.source },
          settings,
        );
        settings = registered.settings;
        source = source ?? registered.source;
      }
      settingsEnc = this.deps.secrets.sealJson(settings);
    }
    const row = await this.#uniqueSource(() =>
      this.#write(id, {
        ...(input.name !== undefined && { name: input.name }),
        ...(source !== undefined && { source }),
        ...(settingsEnc && { settingsEnc }),
      }),
    );
    if (settingsEnc && current.state === 'error') return this.view(await this.setState(id, 'active', null));
    return this.view(row);
  }

  /**
   * Every change of a channel's row but its state (name, source, settings, deletion), with a
   * channel.updated event: every node's channel cache drops the row, so new settings — a new secret —
   * apply to the next webhook.
   */
  #write(id: string, values: Parameters<typeof channelRepository.update>[2]): Promise<ChannelRow> {
    return this.deps.uow.run(async (tx) => {
      const row = await channelRepository.update(tx.db, id, values);
      tx.emit('channel.updated', id, { channelId: id, lineId: row.lineId });
      return row;
    });
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
    const updated = await this.setState(id, 'disconnected', reason ?? 'disconnected by an administrator');
    await this.lifecycle.unregister(row, this.settingsOf(row));
    return this.view(updated);
  }

  /** Reconnects (registers again); a messenger refusal leaves the channel in `error` with the reason. */
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
    this.#checkProvider(row.type);
    let registered: { source: string | null; settings: Record<string, unknown> };
    try {
      registered = await this.lifecycle.register(row, this.settingsOf(row));
    } catch (err) {
      await this.setState(id, 'error', (err as Error).message.slice(0, 500));
      throw err;
    }
    await this.#write(id, {
      source: registered.source,
      settingsEnc: this.deps.secrets.sealJson(registered.settings),
    });
    return this.view(await this.setState(id, 'active', null));
  }

  /**
   * Deletes a channel: it takes nothing more in (disconnected, then deleted; unregistered from its
   * messenger), and its open sessions are closed as the system with `reason` in their history —
   * nobody could answer them any more, and they would wait for good.
   */
  async remove(id: string, reason = 'the channel was deleted'): Promise<void> {
    const row = await this.row(id);
    await this.setState(id, 'disconnected', 'deleted');
    await this.#write(id, { deletedAt: new Date() });
    if (row.state === 'active') await this.lifecycle.unregister(row, this.settingsOf(row));
    if (this.closeSession)
      await closeSessions(
        await channelRepository.openSessionIds(this.deps.db, id),
        reason,
        this.closeSession,
      );
  }

  /** Deletes every live channel of a line (a line being deleted), closing their open sessions. */
  async removeAllOf(lineId: string, reason: string): Promise<void> {
    for (const channel of await channelRepository.liveOfLine(this.deps.db, lineId))
      await this.remove(channel.id, reason);
  }
}
