import { contacts } from '../../db/schema.ts';
import { Conflict, NotFound } from '../../errors.ts';
import { contactScope } from '../access/access.repository.ts';
import type { Deps } from '../deps.ts';
import { compileSearch, type EntitySearchSpec, type SearchRequest } from '../search/filter.ts';
import { searchTable } from '../search/search.repository.ts';
import type { Caller } from '../user/user.ts';
import { type ContactRow, contactRepository } from './contact.repository.ts';

export interface ContactView {
  id: string;
  name: string;
  phones: string[];
  emails: string[];
  notes: string | null;
  mergedIntoId: string | null;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
}

export interface ContactInput {
  name?: string;
  phones?: string[];
  emails?: string[];
  notes?: string | null;
}

export const contactSearch: EntitySearchSpec = {
  fields: {
    id: { column: contacts.id, kind: 'uuid', sortable: true },
    name: { column: contacts.name, kind: 'text', sortable: true },
    phones: { column: contacts.phones, kind: 'textArray' },
    emails: { column: contacts.emails, kind: 'textArray' },
    notes: { column: contacts.notes, kind: 'text' },
    mergedIntoId: { column: contacts.mergedIntoId, kind: 'uuid' },
    createdAt: { column: contacts.createdAt, kind: 'timestamp', sortable: true },
    updatedAt: { column: contacts.updatedAt, kind: 'timestamp', sortable: true },
    deletedAt: { column: contacts.deletedAt, kind: 'timestamp', sortable: true },
  },
  aliases: { phone: 'phones', email: 'emails' },
  defaultSort: [{ field: 'name', dir: 'asc' }],
  tieBreaker: contacts.id,
  deletedField: 'deletedAt',
};

export function contactView(r: ContactRow): ContactView {
  return {
    id: r.id,
    name: r.name,
    phones: r.phones,
    emails: r.emails,
    notes: r.notes,
    mergedIntoId: r.mergedIntoId,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    deletedAt: r.deletedAt?.toISOString() ?? null,
  };
}

const normalizePhones = (phones: string[]) => [
  ...new Set(phones.map((p) => p.replace(/[^\d+]/g, '')).filter(Boolean)),
];
const normalizeEmails = (emails: string[]) => [
  ...new Set(emails.map((e) => e.trim().toLowerCase()).filter(Boolean)),
];

/**
 * The built-in CRM: the contacts that clients (messenger accounts) link to. A caller sees and changes
 * only the contacts of their scope (`contactScope`: admins all; others those of their lines' clients
 * and those not linked yet); any other is 404, as if it did not exist.
 */
export class ContactService {
  constructor(private readonly deps: Deps) {}

  async get(id: string, caller: Caller): Promise<ContactView> {
    return contactView(await this.#visible(id, caller));
  }

  async search(request: SearchRequest, caller: Caller) {
    const page = await searchTable(
      this.deps.db,
      contacts,
      compileSearch(contactSearch, request),
      contactScope(caller),
    );
    return { items: page.items.map(contactView), total: page.total };
  }

  async #visible(id: string, caller: Caller): Promise<ContactRow> {
    const row = await contactRepository.byId(this.deps.db, id, { scope: contactScope(caller) });
    if (!row) throw new NotFound('Contact', id);
    return row;
  }

  async create(input: ContactInput & { name: string }, db = this.deps.db): Promise<ContactView> {
    const row = await contactRepository.insert(db, {
      name: input.name,
      phones: normalizePhones(input.phones ?? []),
      emails: normalizeEmails(input.emails ?? []),
      notes: input.notes ?? null,
    });
    return contactView(row);
  }

  async update(id: string, input: ContactInput, caller: Caller): Promise<ContactView> {
    await this.#visible(id, caller);
    const row = await contactRepository.update(this.deps.db, id, {
      ...(input.name !== undefined && { name: input.name }),
      ...(input.phones && { phones: normalizePhones(input.phones) }),
      ...(input.emails && { emails: normalizeEmails(input.emails) }),
      ...(input.notes !== undefined && { notes: input.notes }),
    });
    if (!row) throw new NotFound('Contact', id);
    return contactView(row);
  }

  async remove(id: string, caller: Caller): Promise<void> {
    await this.#visible(id, caller);
    if (!(await contactRepository.update(this.deps.db, id, { deletedAt: new Date() }))) {
      throw new NotFound('Contact', id);
    }
  }

  /**
   * Merges `sourceId` into `targetId`: the target keeps its name and gains the source's phones,
   * e-mails and notes; every client linked to the source is relinked to the target; the source is
   * soft-deleted with `mergedIntoId` pointing at the target. One transaction.
   */
  async merge(
    targetId: string,
    sourceId: string,
    caller: Caller,
  ): Promise<{ contact: ContactView; relinkedClients: number }> {
    if (targetId === sourceId)
      throw new Conflict('MERGE_WITH_ITSELF', 'a contact cannot be merged into itself');
    return this.deps.uow.run(async (tx) => {
      // Lock both in id order so two opposite merges cannot deadlock.
      const [first, second] = [targetId, sourceId].sort();
      const scope = contactScope(caller);
      const a = await contactRepository.byId(tx.db, first!, { forUpdate: true, scope });
      const b = await contactRepository.byId(tx.db, second!, { forUpdate: true, scope });
      const target = [a, b].find((c) => c?.id === targetId);
      const source = [a, b].find((c) => c?.id === sourceId);
      if (!target) throw new NotFound('Contact', targetId);
      if (!source) throw new NotFound('Contact', sourceId);
      const notes = [target.notes, source.notes].filter(Boolean).join('\n\n') || null;
      const merged = await contactRepository.update(tx.db, targetId, {
        phones: normalizePhones([...target.phones, ...source.phones]),
        emails: normalizeEmails([...target.emails, ...source.emails]),
        notes,
      });
      await contactRepository.update(tx.db, sourceId, { deletedAt: new Date(), mergedIntoId: targetId });
      const relinkedClients = await contactRepository.relinkClients(tx.db, sourceId, targetId);
      tx.emit('contact.merged', targetId, { contactId: targetId, mergedId: sourceId, relinkedClients });
      return { contact: contactView(merged!), relinkedClients };
    });
  }
}
