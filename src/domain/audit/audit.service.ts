/**
 * The security audit log: refused logins (who tried which login from where, and why) and admins'
 * unlocks. Written by the auth routes, read by admins through the search language.
 */
import { auditLog } from '../../db/schema.ts';
import type { Deps } from '../deps.ts';
import { compileSearch, type EntitySearchSpec, type SearchRequest } from '../search/filter.ts';
import { searchTable } from '../search/search.repository.ts';
import { type AuditEntry, type AuditRow, auditRepository } from './audit.repository.ts';

export interface AuditView {
  id: number;
  at: string;
  action: string;
  login: string | null;
  ip: string | null;
  reason: string;
  userId: string | null;
}

export const auditSearch: EntitySearchSpec = {
  fields: {
    id: { column: auditLog.id, kind: 'int', sortable: true },
    at: { column: auditLog.at, kind: 'timestamp', sortable: true },
    action: { column: auditLog.action, kind: 'text', sortable: true },
    login: { column: auditLog.login, kind: 'text', sortable: true },
    ip: { column: auditLog.ip, kind: 'text', sortable: true },
    reason: { column: auditLog.reason, kind: 'text', sortable: true },
    userId: { column: auditLog.userId, kind: 'uuid' },
  },
  defaultSort: [{ field: 'at', dir: 'desc' }],
  tieBreaker: auditLog.id,
};

export function auditView(r: AuditRow): AuditView {
  return {
    id: r.id,
    at: r.at.toISOString(),
    action: r.action,
    login: r.login,
    ip: r.ip,
    reason: r.reason,
    userId: r.userId,
  };
}

/** At most this much of a login is kept: the login route accepts no longer one. */
const MAX_LOGIN = 200;

/** What PostgreSQL can store of attacker-chosen text: no NUL, no unpaired surrogate. */
function storable(s: string): string {
  const text = s.slice(0, MAX_LOGIN).replaceAll('\u0000', '\ufffd');
  return (text as unknown as { toWellFormed(): string }).toWellFormed();
}

export class AuditService {
  constructor(private readonly deps: Deps) {}

  async loginRefused(entry: { login: string; ip: string; reason: string }): Promise<void> {
    const row: AuditEntry = {
      action: 'login.failed',
      login: storable(entry.login),
      ip: storable(entry.ip),
      reason: entry.reason,
    };
    await auditRepository.insert(this.deps.db, row);
  }

  /** An admin lifted the lock of a login and/or an address; `reason` names who. */
  async unlocked(entry: { login?: string; ip?: string; by: string }): Promise<void> {
    await auditRepository.insert(this.deps.db, {
      action: 'login.unlocked',
      login: entry.login === undefined ? null : storable(entry.login),
      ip: entry.ip ?? null,
      reason: `by:${entry.by}`,
    });
  }

  async search(request: SearchRequest) {
    const page = await searchTable(this.deps.db, auditLog, compileSearch(auditSearch, request));
    return { items: page.items.map(auditView), total: page.total };
  }
}
