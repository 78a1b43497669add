import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { queryRows } from '../db/client.ts';

export const leaseRepository = {
  /** Takes or renews a named lease; true when `holder` holds it for the next `ttlMs`. */
  async acquire(db: Db, name: string, holder: string, ttlMs: number): Promise<boolean> {
    const rows = await queryRows<{ holder: string }>(
      db,
      sql`INSERT INTO leases (name, holder, expires_at) VALUES (${name}, ${holder}, now() + make_interval(secs => ${ttlMs / 1000}))
          ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
          WHERE leases.holder = EXCLUDED.holder OR leases.expires_at < now()
          RETURNING holder`,
    );
    return rows[0]?.holder === holder;
  },

  async release(db: Db, name: string, holder: string): Promise<void> {
    await db.execute(sql`DELETE FROM leases WHERE name = ${name} AND holder = ${holder}`);
  },

  async cursor(db: Db, channelId: string): Promise<string | null> {
    const rows = await queryRows<{ cursor: string }>(
      db,
      sql`SELECT cursor FROM channel_cursors WHERE channel_id = ${channelId}`,
    );
    return rows[0]?.cursor ?? null;
  },

  async saveCursor(db: Db, channelId: string, cursor: string): Promise<void> {
    await db.execute(
      sql`INSERT INTO channel_cursors (channel_id, cursor, updated_at) VALUES (${channelId}, ${cursor}, now())
          ON CONFLICT (channel_id) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()`,
    );
  },
};
