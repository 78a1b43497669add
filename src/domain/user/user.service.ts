import { randomBytes } from 'node:crypto';
import { isUniqueViolation } from '../../db/pg-errors.ts';
import { users } from '../../db/schema.ts';
import { Conflict, Forbidden, NotFound, Unauthorized } from '../../errors.ts';
import { hashPassword, verifyPassword } from '../../lib/passwords.ts';
import { hashToken, newToken } from '../../lib/tokens.ts';
import { staffScope } from '../access/access.repository.ts';
import type { Deps } from '../deps.ts';
import { compileSearch, type EntitySearchSpec, type SearchRequest } from '../search/filter.ts';
import { searchTable } from '../search/search.repository.ts';
import { type UserRow, userRepository } from './user.repository.ts';
import { type Caller, ROLES, type Role } from './user.ts';

export interface UserView {
  id: string;
  login: string;
  name: string;
  role: Role;
  blocked: boolean;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
}

export function userView(u: UserRow): UserView {
  return {
    id: u.id,
    login: u.login,
    name: u.name,
    role: u.role as Role,
    blocked: u.blocked,
    createdAt: u.createdAt.toISOString(),
    updatedAt: u.updatedAt.toISOString(),
    deletedAt: u.deletedAt?.toISOString() ?? null,
  };
}

export const userSearch: EntitySearchSpec = {
  fields: {
    id: { column: users.id, kind: 'uuid', sortable: true },
    login: { column: users.login, kind: 'text', sortable: true },
    name: { column: users.name, kind: 'text', sortable: true },
    role: { column: users.role, kind: 'enum', values: ROLES },
    blocked: { column: users.blocked, kind: 'bool' },
    createdAt: { column: users.createdAt, kind: 'timestamp', sortable: true },
    deletedAt: { column: users.deletedAt, kind: 'timestamp' },
  },
  defaultSort: [{ field: 'login', dir: 'asc' }],
  tieBreaker: users.id,
  deletedField: 'deletedAt',
};

/**
 * What staff other than admins see of a colleague: who they are and their role — not their login
 * (half of a credential), whether they are blocked, or the record's times.
 */
export interface ColleagueView {
  id: string;
  name: string;
  role: Role;
}

export function colleagueView(u: UserRow): ColleagueView {
  return { id: u.id, name: u.name, role: u.role as Role };
}

/** The search of staff by non-admins: only the fields of their view (no probing logins by filter). */
export const colleagueSearch: EntitySearchSpec = {
  fields: {
    id: userSearch.fields.id!,
    name: userSearch.fields.name!,
    role: userSearch.fields.role!,
  },
  defaultSort: [{ field: 'name', dir: 'asc' }],
  tieBreaker: users.id,
};

const TOKEN_TTL_MS = 30 * 24 * 3600 * 1000;
/** The name of the tokens `login` issues (a password change revokes them). */
const LOGIN_TOKEN = 'login';

export class UserService {
  constructor(private readonly deps: Deps) {}

  async authenticate(token: string): Promise<Caller> {
    const found = await userRepository.byTokenHash(this.deps.db, hashToken(token));
    if (!found) throw new Unauthorized('invalid or expired token', 'INVALID_TOKEN');
    if (found.user.blocked) throw new Forbidden('the user is blocked', 'USER_BLOCKED');
    const u = found.user;
    return { id: u.id, login: u.login, name: u.name, role: u.role as Role, tokenId: found.tokenId };
  }

  async login(login: string, password: string): Promise<{ token: string; user: UserView }> {
    const user = await userRepository.byLogin(this.deps.db, login);
    // Hash even when the user is unknown, so timing does not tell which logins exist.
    const ok = await verifyPassword(password, user?.passwordHash ?? 'scrypt$16384$8$1$AAAA$AAAA');
    if (!user || !ok) throw new Unauthorized('wrong login or password', 'INVALID_CREDENTIALS');
    if (user.blocked) throw new Forbidden('the user is blocked', 'USER_BLOCKED');
    const token = await this.issueToken(user.id, LOGIN_TOKEN, new Date(Date.now() + TOKEN_TTL_MS));
    return { token, user: userView(user) };
  }

  async issueToken(userId: string, name: string, expiresAt: Date | null): Promise<string> {
    const token = newToken();
    await userRepository.insertToken(this.deps.db, { userId, name, tokenHash: hashToken(token), expiresAt });
    return token;
  }

  async logout(caller: Caller): Promise<void> {
    await this.deps.uow.run(async (tx) => {
      await userRepository.revokeToken(tx.db, caller.tokenId);
      tx.emit('user.loggedOut', caller.id, { userId: caller.id, tokenId: caller.tokenId });
    });
  }

  async get(id: string): Promise<UserView> {
    const u = await userRepository.byId(this.deps.db, id);
    if (!u) throw new NotFound('User', id);
    return userView(u);
  }

  /** A user as the caller may see them: admins the whole view; others a colleague's, in their scope. */
  async getFor(id: string, caller: Caller): Promise<UserView | ColleagueView> {
    if (caller.role === 'admin') return this.get(id);
    const page = await this.search({ where: { field: 'id', op: 'eq', value: id } }, caller);
    if (!page.items[0]) throw new NotFound('User', id);
    return page.items[0];
  }

  /** Admins search all staff; others only themselves and the staff of their lines (`staffScope`). */
  async search(request: SearchRequest, caller: Caller) {
    if (caller.role === 'admin') {
      const p = await searchTable(this.deps.db, users, compileSearch(userSearch, request));
      return { items: p.items.map(userView), total: p.total };
    }
    const p = await searchTable(
      this.deps.db,
      users,
      compileSearch(colleagueSearch, request),
      staffScope(caller),
    );
    return { items: p.items.map(colleagueView), total: p.total };
  }

  async create(input: { login: string; name: string; role: Role; password: string }): Promise<UserView> {
    if (await userRepository.byLogin(this.deps.db, input.login)) {
      throw new Conflict('LOGIN_TAKEN', `login "${input.login}" is taken`, { field: 'login' });
    }
    const passwordHash = await hashPassword(input.password);
    try {
      return userView(
        await userRepository.insert(this.deps.db, {
          login: input.login,
          name: input.name,
          role: input.role,
          passwordHash,
        }),
      );
    } catch (err) {
      // Two creates of one login at once: the unique index decides, the loser is told as above.
      if (isUniqueViolation(err)) {
        throw new Conflict('LOGIN_TAKEN', `login "${input.login}" is taken`, { field: 'login' });
      }
      throw err;
    }
  }

  async update(
    id: string,
    patch: { name?: string; role?: Role; password?: string; blocked?: boolean },
  ): Promise<UserView> {
    const values: Partial<typeof users.$inferInsert> = {};
    if (patch.name !== undefined) values.name = patch.name;
    if (patch.role !== undefined) values.role = patch.role;
    if (patch.blocked !== undefined) values.blocked = patch.blocked;
    if (patch.password !== undefined) values.passwordHash = await hashPassword(patch.password);
    const row = await this.deps.uow.run(async (tx) => {
      const updated = await userRepository.update(tx.db, id, values);
      if (!updated || updated.deletedAt) throw new NotFound('User', id);
      // A new password signs the user out everywhere (every login token, and the live connections
      // on them); integration tokens an admin issued stay: they are not a password's to end.
      if (patch.password !== undefined && patch.blocked !== true) {
        for (const tokenId of await userRepository.revokeTokensNamed(tx.db, id, LOGIN_TOKEN))
          tx.emit('user.loggedOut', id, { userId: id, tokenId });
      }
      if (patch.blocked === true) {
        await userRepository.revokeAllTokens(tx.db, id);
        tx.emit('user.blocked', id, { userId: id });
      }
      return updated;
    });
    return userView(row);
  }

  async remove(id: string, caller: Caller): Promise<void> {
    if (id === caller.id) throw new Conflict('CANNOT_DELETE_SELF', 'you cannot delete your own user');
    await this.deps.uow.run(async (tx) => {
      const row = await userRepository.update(tx.db, id, { deletedAt: new Date() });
      if (!row) throw new NotFound('User', id);
      await userRepository.revokeAllTokens(tx.db, id);
      // Their live connections end, and their sessions go back to the queue (platform.ts).
      tx.emit('user.deleted', id, { userId: id });
    });
  }

  /**
   * On first start with an empty database, creates the admin. Returns the generated password when
   * none was configured (the caller prints it once), or null when nothing was created.
   */
  async bootstrapAdmin(
    login: string,
    password: string | null,
  ): Promise<{ login: string; password: string | null } | null> {
    if ((await userRepository.count(this.deps.db)) > 0) return null;
    const generated = password ?? randomBytes(12).toString('base64url');
    const passwordHash = await hashPassword(generated);
    // Nodes starting together on an empty database: one creates the admin, the others see it.
    const created = await this.deps.db.transaction(async (tx) => {
      await userRepository.lockFirstAdmin(tx);
      if ((await userRepository.count(tx)) > 0) return false;
      await userRepository.insert(tx, { login, name: 'Administrator', role: 'admin', passwordHash });
      return true;
    });
    return created ? { login, password: password ? null : generated } : null;
  }
}
