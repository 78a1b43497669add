/** SQL of the live chat: visitors' page loads, a visitor's own history, ratings, who is online. */
import { sql } from 'drizzle-orm';
import { type Db, queryRows } from '../../db/client.ts';
import { livechatVisitors, sessionRatings } from '../../db/schema.ts';

export interface VisitorVisit {
  channelId: string;
  externalId: string;
  pageUrl: string | null;
  referer: string | null;
  ip: string | null;
  coordinates: Record<string, unknown> | null;
  verified: boolean;
  at: Date;
}

export interface VisitorHistoryRow {
  id: string;
  session_id: string;
  direction: string;
  sender_type: string;
  sender_name: string | null;
  external_id: string | null;
  text: string | null;
  attachments: { fileId: string | null; name: string | null; mimeType: string | null; size: number | null }[];
  created_at: string | Date;
  seq: string | number;
}

const OPEN = sql`('Waiting', 'AssignedToBot', 'AssignedToOperator')`;

export const livechatRepository = {
  async recordVisit(db: Db, v: VisitorVisit): Promise<void> {
    await db
      .insert(livechatVisitors)
      .values({ ...v, seenAt: v.at })
      .onConflictDoUpdate({
        target: [livechatVisitors.channelId, livechatVisitors.externalId],
        set: {
          pageUrl: v.pageUrl,
          referer: v.referer,
          ip: v.ip,
          coordinates: v.coordinates,
          verified: v.verified,
          seenAt: v.at,
        },
      });
  },

  /**
   * The visitor's messages on the channel, every session of theirs, newest first, older than
   * `before` (a message's seq). Deleted messages, soft-deleted sessions and the operators' internal
   * notes (type `note`: staff only) are left out.
   */
  async history(
    db: Db,
    channelId: string,
    externalId: string,
    before: number | null,
    limit: number,
  ): Promise<VisitorHistoryRow[]> {
    return queryRows<VisitorHistoryRow>(
      db,
      sql`SELECT m.id, m.session_id, m.direction, m.sender_type, m.external_id, m.text, m.attachments,
            m.created_at, m.seq, u.name AS sender_name
          FROM clients c
          JOIN sessions s ON s.client_id = c.id AND s.channel_id = c.channel_id AND s.deleted_at IS NULL
          JOIN messages m ON m.session_id = s.id AND m.deleted_at IS NULL AND m.type <> 'note'
          LEFT JOIN users u ON m.sender_type = 'operator' AND u.id::text = m.sender_id
          WHERE c.channel_id = ${channelId} AND c.external_id = ${externalId} AND c.deleted_at IS NULL
            ${before === null ? sql`` : sql`AND m.seq < ${before}`}
          ORDER BY m.seq DESC
          LIMIT ${limit}`,
    );
  },

  /** The visitor's session by id (only theirs), with its state and line. */
  async sessionOfVisitor(
    db: Db,
    sessionId: string,
    channelId: string,
    externalId: string,
  ): Promise<{ id: string; state: string; line_id: string } | undefined> {
    const [row] = await queryRows<{ id: string; state: string; line_id: string }>(
      db,
      sql`SELECT s.id, s.state, s.line_id FROM sessions s JOIN clients c ON c.id = s.client_id
          WHERE s.id = ${sessionId} AND s.channel_id = ${channelId} AND c.external_id = ${externalId}
            AND s.deleted_at IS NULL`,
    );
    return row;
  },

  /** The visitor's open session on the channel, if any. */
  async openSessionOf(db: Db, channelId: string, externalId: string): Promise<string | null> {
    const [row] = await queryRows<{ id: string }>(
      db,
      sql`SELECT s.id FROM sessions s JOIN clients c ON c.id = s.client_id
          WHERE c.channel_id = ${channelId} AND c.external_id = ${externalId} AND c.deleted_at IS NULL
            AND s.channel_id = ${channelId} AND s.state IN ${OPEN}`,
    );
    return row?.id ?? null;
  },

  /** Stores a rating; false when the session has one already. */
  async rate(
    db: Db,
    r: { sessionId: string; lineId: string; rating: number; comment: string | null; at: Date },
  ): Promise<boolean> {
    const rows = await db
      .insert(sessionRatings)
      .values({
        sessionId: r.sessionId,
        lineId: r.lineId,
        rating: r.rating,
        comment: r.comment,
        ratedAt: r.at,
      })
      .onConflictDoNothing()
      .returning({ id: sessionRatings.sessionId });
    return rows.length > 0;
  },

  /** Operators serving the line (directly or through a group) whose status is online. */
  async operatorsOnline(db: Db, lineId: string): Promise<number> {
    const [row] = await queryRows<{ n: number }>(
      db,
      sql`SELECT count(*)::int AS n FROM users u
          WHERE u.status = 'online' AND u.deleted_at IS NULL AND u.blocked = false
            AND u.id IN (SELECT user_id FROM line_operators WHERE line_id = ${lineId}
              UNION SELECT gm.user_id FROM line_groups lg JOIN group_members gm ON gm.group_id = lg.group_id
                WHERE lg.line_id = ${lineId})`,
    );
    return Number(row?.n ?? 0);
  },
};
