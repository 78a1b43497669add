/** Helpers of the Meta provider tests: signed webhooks through the real route, and stored rows. */
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.ts';
import { FakeMetaGraphApi } from '../fakes/meta-graph-api.ts';
import type { TestContext } from '../helpers/app.ts';

export const APP_SECRET = 'meta-app-secret-0123456789';
export const VERIFY_TOKEN = 'verify-token-0123456789';

export async function postSigned(
  ctx: TestContext,
  provider: string,
  channelId: string,
  body: unknown,
  opts: { secret?: string; headers?: Record<string, string> } = {},
) {
  const { raw, headers } = FakeMetaGraphApi.signed(opts.secret ?? APP_SECRET, body);
  const res = await ctx.app.inject({
    method: 'POST',
    url: `/webhooks/${provider}/${channelId}`,
    headers: { ...headers, ...opts.headers },
    payload: raw,
  });
  return { status: res.statusCode, body: res.json() };
}

export async function messagesOf(ctx: TestContext, channelId: string, direction = 'incoming') {
  return queryRows<{
    id: string;
    text: string | null;
    external_id: string | null;
    session_id: string;
    type: string;
    status: string;
    attachments: {
      fileId: string | null;
      name: string | null;
      mimeType: string | null;
      size: number | null;
    }[];
    error: { code: string; message: string } | null;
  }>(
    ctx.db,
    sql`SELECT id, text, external_id, session_id, type, status, attachments, error FROM messages
        WHERE channel_id = ${channelId} AND direction = ${direction} ORDER BY seq`,
  );
}

export async function clientsOf(ctx: TestContext, channelId: string) {
  return queryRows<{
    id: string;
    external_id: string;
    first_name: string | null;
    phone: string | null;
    avatar_url: string | null;
    unreachable: boolean;
  }>(
    ctx.db,
    sql`SELECT id, external_id, first_name, phone, avatar_url, unreachable FROM clients WHERE channel_id = ${channelId} ORDER BY created_at`,
  );
}

export async function sessionsOf(ctx: TestContext, channelId: string) {
  return queryRows<{ id: string; state: string; client_id: string }>(
    ctx.db,
    sql`SELECT id, state, client_id FROM sessions WHERE channel_id = ${channelId} ORDER BY created_at`,
  );
}
