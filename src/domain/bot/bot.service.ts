import { randomBytes, randomUUID } from 'node:crypto';
import { bots } from '../../db/schema.ts';
import { NotFound } from '../../errors.ts';
import { maskSettings, mergeSettings } from '../../lib/settings-mask.ts';
import type { Deps } from '../deps.ts';
import { compileSearch, type EntitySearchSpec, type SearchRequest } from '../search/filter.ts';
import { searchTable } from '../search/search.repository.ts';
import { userRepository } from '../user/user.repository.ts';
import { type BotRow, botRepository } from './bot.repository.ts';

export interface BotView {
  id: string;
  name: string;
  /** Write-only secrets masked; the webhook URL is shown. */
  settings: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

const PUBLIC_BOT_SETTINGS = ['webhookUrl'];

export const botSearch: EntitySearchSpec = {
  fields: {
    id: { column: bots.id, kind: 'uuid', sortable: true },
    name: { column: bots.name, kind: 'text', sortable: true },
    createdAt: { column: bots.createdAt, kind: 'timestamp', sortable: true },
    deletedAt: { column: bots.deletedAt, kind: 'timestamp' },
  },
  defaultSort: [{ field: 'name', dir: 'asc' }],
  tieBreaker: bots.id,
  deletedField: 'deletedAt',
};

/** Bots that sessions can be assigned to (their webhook behaviour comes with routing). */
export class BotService {
  constructor(private readonly deps: Deps) {}

  view(r: BotRow): BotView {
    return {
      id: r.id,
      name: r.name,
      settings: maskSettings(this.deps.secrets.openJson(r.settingsEnc), PUBLIC_BOT_SETTINGS),
      createdAt: r.createdAt.toISOString(),
      updatedAt: r.updatedAt.toISOString(),
    };
  }

  async get(id: string): Promise<BotView> {
    const row = await botRepository.byId(this.deps.db, id);
    if (!row) throw new NotFound('Bot', id);
    return this.view(row);
  }

  async search(request: SearchRequest) {
    const page = await searchTable(this.deps.db, bots, compileSearch(botSearch, request));
    return { items: page.items.map((r) => this.view(r)), total: page.total };
  }

  /**
   * Creates a bot and the API identity it acts with (a user with role `bot` and the same id), so a
   * bot's token reaches exactly the sessions assigned to it.
   */
  async create(input: { name: string; settings?: Record<string, unknown> }): Promise<BotView> {
    const id = randomUUID();
    const row = await this.deps.uow.run(async ({ db }) => {
      const bot = await botRepository.insert(db, {
        id,
        name: input.name,
        settingsEnc: this.deps.secrets.sealJson(mergeSettings({}, input.settings ?? {})),
      });
      await userRepository.insert(db, {
        id,
        login: `bot-${id}`,
        name: input.name,
        role: 'bot',
        // No password logs a bot in: it uses tokens issued with POST /bots/:id/tokens.
        passwordHash: `!${randomBytes(24).toString('base64url')}`,
      });
      return bot;
    });
    return this.view(row);
  }

  /** The bot's webhook settings (decrypted; for the dispatcher only). */
  async settings(id: string): Promise<{ webhookUrl?: string; secret?: string } | null> {
    const row = await botRepository.byId(this.deps.db, id);
    return row
      ? (this.deps.secrets.openJson<{ webhookUrl?: string; secret?: string }>(row.settingsEnc) ?? {})
      : null;
  }

  async update(id: string, input: { name?: string; settings?: Record<string, unknown> }): Promise<BotView> {
    const current = await botRepository.byId(this.deps.db, id);
    if (!current) throw new NotFound('Bot', id);
    const row = await botRepository.update(this.deps.db, id, {
      ...(input.name !== undefined && { name: input.name }),
      ...(input.settings && {
        settingsEnc: this.deps.secrets.sealJson(
          mergeSettings(this.deps.secrets.openJson(current.settingsEnc), input.settings),
        ),
      }),
    });
    return this.view(row!);
  }

  async remove(id: string): Promise<void> {
    if (!(await botRepository.update(this.deps.db, id, { deletedAt: new Date() }))) {
      throw new NotFound('Bot', id);
    }
    await userRepository.update(this.deps.db, id, { deletedAt: new Date() });
    await userRepository.revokeAllTokens(this.deps.db, id);
  }
}
