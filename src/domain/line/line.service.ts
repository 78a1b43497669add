import { sql } from 'drizzle-orm';
import { type LineSettings, lines } from '../../db/schema.ts';
import { InvalidField, NotFound } from '../../errors.ts';
import { lineScope } from '../access/access.repository.ts';
import { botRepository } from '../bot/bot.repository.ts';
import { type ChannelService, type CloseSession, closeSessions } from '../channel/channel.service.ts';
import type { Deps } from '../deps.ts';
import { compileSearch, type EntitySearchSpec, type SearchRequest } from '../search/filter.ts';
import { searchTable } from '../search/search.repository.ts';
import type { Caller } from '../user/user.ts';
import { type LineRow, lineRepository } from './line.repository.ts';

export interface LineView {
  id: string;
  name: string;
  settings: LineSettings;
  queue: Record<string, unknown>;
  operatorIds: string[];
  groupIds: string[];
  botId: string | null;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
}

export interface LineInput {
  name?: string;
  settings?: Partial<LineSettings>;
  queue?: Record<string, unknown>;
  botId?: string | null;
  operatorIds?: string[];
  groupIds?: string[];
}

export const lineSearch: EntitySearchSpec = {
  fields: {
    id: { column: lines.id, kind: 'uuid', sortable: true },
    name: { column: lines.name, kind: 'text', sortable: true },
    createdAt: { column: lines.createdAt, kind: 'timestamp', sortable: true },
    updatedAt: { column: lines.updatedAt, kind: 'timestamp', sortable: true },
    deletedAt: { column: lines.deletedAt, kind: 'timestamp', sortable: true },
  },
  defaultSort: [{ field: 'name', dir: 'asc' }],
  tieBreaker: lines.id,
  deletedField: 'deletedAt',
};

export const DEFAULT_LINE_SETTINGS: LineSettings = { applicationType: 'contact' };

/** Checks a queue patch (the routing layer knows the rules); identity where nothing is wired. */
export type QueueValidator = (patch: Record<string, unknown>) => Record<string, unknown>;

export class LineService {
  constructor(
    private readonly deps: Deps,
    private readonly validateQueue: QueueValidator = (q) => q,
    /** What goes with a deleted line: its channels, and the open sessions they leave. */
    private readonly cascade?: { channels: ChannelService; closeSession: CloseSession },
  ) {}

  async #views(rows: LineRow[]): Promise<LineView[]> {
    const members = await lineRepository.members(
      this.deps.db,
      rows.map((r) => r.id),
    );
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      settings: r.settings,
      queue: r.queue,
      operatorIds: members.get(r.id)?.operatorIds ?? [],
      groupIds: members.get(r.id)?.groupIds ?? [],
      botId: r.botId,
      createdAt: r.createdAt.toISOString(),
      updatedAt: r.updatedAt.toISOString(),
      deletedAt: r.deletedAt?.toISOString() ?? null,
    }));
  }

  /** The live line, or 404. */
  async row(id: string): Promise<LineRow> {
    const row = await lineRepository.byId(this.deps.db, id);
    if (!row || row.deletedAt) throw new NotFound('Line', id);
    return row;
  }

  async get(id: string, caller: Caller): Promise<LineView> {
    const page = await this.search({ where: { field: 'id', op: 'eq', value: id } }, caller);
    if (!page.items[0]) throw new NotFound('Line', id);
    return page.items[0];
  }

  async search(request: SearchRequest, caller: Caller) {
    const page = await searchTable(
      this.deps.db,
      lines,
      compileSearch(lineSearch, request),
      lineScope(caller, sql`${lines.id}`),
    );
    return { items: await this.#views(page.items), total: page.total };
  }

  async create(input: LineInput & { name: string }): Promise<LineView> {
    const row = await this.deps.uow.run(async ({ db }) => {
      const line = await lineRepository.insert(db, {
        name: input.name,
        settings: { ...DEFAULT_LINE_SETTINGS, ...input.settings },
        queue: this.validateQueue(input.queue ?? {}),
        botId: await this.#bot(db, input.botId),
      });
      await this.#setMembers(db, line.id, input);
      return line;
    });
    return (await this.#views([row]))[0]!;
  }

  async update(id: string, input: LineInput): Promise<LineView> {
    const row = await this.deps.uow.run(async ({ db }) => {
      const current = await lineRepository.byId(db, id, { forUpdate: true });
      if (!current || current.deletedAt) throw new NotFound('Line', id);
      const line = await lineRepository.update(db, id, {
        ...(input.name !== undefined && { name: input.name }),
        ...(input.settings && { settings: { ...current.settings, ...input.settings } }),
        ...(input.queue && { queue: { ...current.queue, ...this.validateQueue(input.queue) } }),
        ...(input.botId !== undefined && { botId: await this.#bot(db, input.botId) }),
      });
      await this.#setMembers(db, id, input);
      return line!;
    });
    return (await this.#views([row]))[0]!;
  }

  async #bot(db: Deps['db'], botId: string | null | undefined): Promise<string | null> {
    if (!botId) return null;
    if (!(await botRepository.byId(db, botId))) throw new InvalidField('botId', `no bot ${botId}`);
    return botId;
  }

  async #setMembers(db: Deps['db'], lineId: string, input: LineInput): Promise<void> {
    if (input.operatorIds) {
      const ids = [...new Set(input.operatorIds)];
      const found = await lineRepository.existingUsers(db, ids);
      const missing = ids.findIndex((u) => !found.has(u));
      if (missing >= 0) throw new InvalidField(`operatorIds[${missing}]`, `no user ${ids[missing]}`);
      await lineRepository.setOperators(db, lineId, ids);
    }
    if (input.groupIds) {
      const ids = [...new Set(input.groupIds)];
      const found = await lineRepository.existingGroups(db, ids);
      const missing = ids.findIndex((g) => !found.has(g));
      if (missing >= 0) throw new InvalidField(`groupIds[${missing}]`, `no operator group ${ids[missing]}`);
      await lineRepository.setGroups(db, lineId, ids);
    }
  }

  /**
   * Deletes a line with its channels; the open sessions (on those channels, or on channels
   * disconnected before) are closed as the system, their history saying the line was deleted.
   */
  async remove(id: string): Promise<void> {
    const row = await lineRepository.update(this.deps.db, id, { deletedAt: new Date() });
    if (!row) throw new NotFound('Line', id);
    if (!this.cascade) return;
    const reason = 'the line was deleted';
    await this.cascade.channels.removeAllOf(id, reason);
    await closeSessions(
      await lineRepository.openSessionIds(this.deps.db, id),
      reason,
      this.cascade.closeSession,
    );
  }
}
