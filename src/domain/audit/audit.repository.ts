import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { auditLog, users } from '../../db/schema.ts';

export type AuditRow = typeof auditLog.$inferSelect;

export interface AuditEntry {
  action: string;
  login: string | null;
  ip: string | null;
  reason: string;
}

export const auditRepository = {
  /** One row; `user_id` is the live user the login names, when there is one (same statement). */
  async insert(db: Db, entry: AuditEntry): Promise<void> {
    const userId = entry.login
      ? sql`(SELECT ${users.id} FROM ${users} WHERE lower(${users.login}) = lower(${entry.login}) AND ${users.deletedAt} IS NULL LIMIT 1)`
      : sql`NULL`;
    await db.insert(auditLog).values({
      action: entry.action,
      login: entry.login,
      ip: entry.ip,
      reason: entry.reason,
      userId,
    });
  },
};
