import { operatorGroups } from '../../db/schema.ts';
import { InvalidField, NotFound } from '../../errors.ts';
import type { Deps } from '../deps.ts';
import { lineRepository } from '../line/line.repository.ts';
import { compileSearch, type EntitySearchSpec, type SearchRequest } from '../search/filter.ts';
import { searchTable } from '../search/search.repository.ts';
import { type GroupRow, groupRepository } from './group.repository.ts';

export interface GroupView {
  id: string;
  name: string;
  memberIds: string[];
  createdAt: string;
  updatedAt: string;
}

export const groupSearch: EntitySearchSpec = {
  fields: {
    id: { column: operatorGroups.id, kind: 'uuid', sortable: true },
    name: { column: operatorGroups.name, kind: 'text', sortable: true },
    createdAt: { column: operatorGroups.createdAt, kind: 'timestamp', sortable: true },
    deletedAt: { column: operatorGroups.deletedAt, kind: 'timestamp' },
  },
  defaultSort: [{ field: 'name', dir: 'asc' }],
  tieBreaker: operatorGroups.id,
  deletedField: 'deletedAt',
};

/** Operator groups: named sets of operators that serve lines and take group-assigned sessions. */
export class GroupService {
  constructor(private readonly deps: Deps) {}

  async #views(rows: GroupRow[]): Promise<GroupView[]> {
    const members = await groupRepository.memberIds(
      this.deps.db,
      rows.map((r) => r.id),
    );
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      memberIds: members.get(r.id) ?? [],
      createdAt: r.createdAt.toISOString(),
      updatedAt: r.updatedAt.toISOString(),
    }));
  }

  async get(id: string): Promise<GroupView> {
    const row = await groupRepository.byId(this.deps.db, id);
    if (!row) throw new NotFound('OperatorGroup', id);
    return (await this.#views([row]))[0]!;
  }

  async search(request: SearchRequest) {
    const page = await searchTable(this.deps.db, operatorGroups, compileSearch(groupSearch, request));
    return { items: await this.#views(page.items), total: page.total };
  }

  async create(input: { name: string; memberIds?: string[] }): Promise<GroupView> {
    const row = await this.deps.uow.run(async ({ db }) => {
      const group = await groupRepository.insert(db, input.name);
      if (input.memberIds) await this.#setMembers(db, group.id, input.memberIds);
      return group;
    });
    return (await this.#views([row]))[0]!;
  }

  async update(id: string, input: { name?: string; memberIds?: string[] }): Promise<GroupView> {
    const row = await this.deps.uow.run(async ({ db }) => {
      const group = await groupRepository.update(
        db,
        id,
        input.name !== undefined ? { name: input.name } : {},
      );
      if (!group) throw new NotFound('OperatorGroup', id);
      if (input.memberIds) await this.#setMembers(db, id, input.memberIds);
      return group;
    });
    return (await this.#views([row]))[0]!;
  }

  async #setMembers(db: Deps['db'], groupId: string, memberIds: string[]): Promise<void> {
    const ids = [...new Set(memberIds)];
    const found = await lineRepository.existingUsers(db, ids);
    const missing = ids.findIndex((u) => !found.has(u));
    if (missing >= 0) throw new InvalidField(`memberIds[${missing}]`, `no user ${ids[missing]}`);
    await groupRepository.setMembers(db, groupId, ids);
  }

  async remove(id: string): Promise<void> {
    if (!(await groupRepository.update(this.deps.db, id, { deletedAt: new Date() }))) {
      throw new NotFound('OperatorGroup', id);
    }
  }
}
