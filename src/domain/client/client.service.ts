import { clients } from '../../db/schema.ts';
import { NotFound, Unprocessable } from '../../errors.ts';
import { isUuid } from '../../lib/ids.ts';
import { clientScope, contactScope } from '../access/access.repository.ts';
import { channelRepository } from '../channel/channel.repository.ts';
import { contactRepository } from '../contact/contact.repository.ts';
import type { Deps } from '../deps.ts';
import { lineRepository } from '../line/line.repository.ts';
import { compileSearch, type EntitySearchSpec, type SearchRequest } from '../search/filter.ts';
import { searchTable } from '../search/search.repository.ts';
import type { Caller } from '../user/user.ts';
import { type ClientRow, clientRepository } from './client.repository.ts';

export interface ApplicationItem {
  type: string;
  id: string;
}

export interface ClientView {
  id: string;
  channelId: string;
  externalId: string;
  username: string | null;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  email: string | null;
  avatarUrl: string | null;
  applicationItem: ApplicationItem | null;
  banned: boolean;
  online: boolean;
  lastSeenAt: string | null;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
}

export interface ClientPatch {
  username?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  phone?: string | null;
  email?: string | null;
  avatarUrl?: string | null;
  banned?: boolean;
  applicationItem?: ApplicationItem | null;
}

export const clientSearch: EntitySearchSpec = {
  fields: {
    id: { column: clients.id, kind: 'uuid', sortable: true },
    channelId: { column: clients.channelId, kind: 'uuid' },
    externalId: { column: clients.externalId, kind: 'text' },
    username: { column: clients.username, kind: 'text', sortable: true },
    firstName: { column: clients.firstName, kind: 'text', sortable: true },
    lastName: { column: clients.lastName, kind: 'text', sortable: true },
    phone: { column: clients.phone, kind: 'text' },
    email: { column: clients.email, kind: 'text' },
    applicationType: { column: clients.applicationType, kind: 'text' },
    applicationId: { column: clients.applicationId, kind: 'text' },
    banned: { column: clients.banned, kind: 'bool' },
    online: { column: clients.online, kind: 'bool' },
    lastSeenAt: { column: clients.lastSeenAt, kind: 'timestamp', sortable: true },
    createdAt: { column: clients.createdAt, kind: 'timestamp', sortable: true },
    updatedAt: { column: clients.updatedAt, kind: 'timestamp', sortable: true },
    deletedAt: { column: clients.deletedAt, kind: 'timestamp', sortable: true },
  },
  aliases: { channel: 'channelId' },
  defaultSort: [{ field: 'createdAt', dir: 'desc' }],
  tieBreaker: clients.id,
  deletedField: 'deletedAt',
};

export function clientView(r: ClientRow): ClientView {
  return {
    id: r.id,
    channelId: r.channelId,
    externalId: r.externalId,
    username: r.username,
    firstName: r.firstName,
    lastName: r.lastName,
    phone: r.phone,
    email: r.email,
    avatarUrl: r.avatarUrl,
    applicationItem:
      r.applicationType && r.applicationId ? { type: r.applicationType, id: r.applicationId } : null,
    banned: r.banned,
    online: r.online,
    lastSeenAt: r.lastSeenAt?.toISOString() ?? null,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    deletedAt: r.deletedAt?.toISOString() ?? null,
  };
}

/** Messenger accounts that write to a line. */
export class ClientService {
  constructor(private readonly deps: Deps) {}

  async get(id: string, caller: Caller): Promise<ClientView> {
    const page = await this.search({ where: { field: 'id', op: 'eq', value: id } }, caller);
    if (!page.items[0]) throw new NotFound('Client', id);
    return page.items[0];
  }

  async search(request: SearchRequest, caller: Caller) {
    const page = await searchTable(
      this.deps.db,
      clients,
      compileSearch(clientSearch, request),
      clientScope(caller),
    );
    return { items: page.items.map(clientView), total: page.total };
  }

  async update(id: string, patch: ClientPatch, caller: Caller): Promise<ClientView> {
    const current = await this.get(id, caller);
    const values: Partial<typeof clients.$inferInsert> = {};
    for (const key of [
      'username',
      'firstName',
      'lastName',
      'phone',
      'email',
      'avatarUrl',
      'banned',
    ] as const) {
      if (patch[key] !== undefined) (values as Record<string, unknown>)[key] = patch[key];
    }
    if (patch.applicationItem !== undefined) {
      if (patch.applicationItem !== null)
        await this.#checkLink(current.channelId, patch.applicationItem, caller);
      values.applicationType = patch.applicationItem?.type ?? null;
      values.applicationId = patch.applicationItem?.id ?? null;
    }
    const row = await this.deps.uow.run(async (tx) => {
      const updated = await clientRepository.update(tx.db, id, values);
      if (!updated) throw new NotFound('Client', id);
      tx.emit('client.updated', id, { clientId: id, channelId: updated.channelId });
      return updated;
    });
    return clientView(row);
  }

  /** A client may be linked only to a record of the application chosen in its line's settings. */
  async #checkLink(channelId: string, item: ApplicationItem, caller: Caller): Promise<void> {
    const channel = await channelRepository.byId(this.deps.db, channelId);
    const line = channel && (await lineRepository.byId(this.deps.db, channel.lineId));
    const allowed = line?.settings.applicationType ?? null;
    if (allowed === null || item.type !== allowed) {
      throw new Unprocessable(
        'APPLICATION_TYPE_NOT_ALLOWED',
        allowed === null
          ? 'the line of this client allows no application link'
          : `the line of this client links clients to "${allowed}" records, not "${item.type}"`,
        { field: 'applicationItem.type', allowed },
      );
    }
    if (
      item.type === 'contact' &&
      (!isUuid(item.id) ||
        !(await contactRepository.byId(this.deps.db, item.id, { scope: contactScope(caller) })))
    ) {
      throw new Unprocessable('LINKED_RECORD_NOT_FOUND', `no contact ${item.id}`, {
        field: 'applicationItem.id',
      });
    }
  }
}
