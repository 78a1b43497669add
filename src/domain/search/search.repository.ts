import { and, type SQL, sql } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { Db } from '../../db/client.ts';
import type { CompiledSearch } from './filter.ts';

export interface Page<T> {
  items: T[];
  total: number;
}

/** Runs a compiled search (plus the caller's scope) against one table: one page and the total. */
export async function searchTable<T extends PgTable>(
  db: Db,
  table: T,
  search: CompiledSearch,
  scope: SQL = sql`TRUE`,
): Promise<Page<T['$inferSelect']>> {
  const where = and(search.where, scope);
  const [items, counted] = await Promise.all([
    db
      .select()
      .from(table as PgTable)
      .where(where)
      .orderBy(...search.orderBy)
      .limit(search.limit)
      .offset(search.offset),
    db
      .select({ n: sql<number>`count(*)::int` })
      .from(table as PgTable)
      .where(where),
  ]);
  return { items: items as T['$inferSelect'][], total: counted[0]?.n ?? 0 };
}
