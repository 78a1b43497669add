import { randomUUID } from 'node:crypto';
import { signApiBody } from '../../src/providers/api/api.provider.ts';
import type { TestContext } from './app.ts';

export const API_SECRET = 'test-api-secret-0123456789';

/** Posts a signed api-channel webhook, as an external system would. */
export async function apiWebhook(
  ctx: TestContext,
  channelId: string,
  body: Record<string, unknown>,
  secret = API_SECRET,
) {
  const raw = JSON.stringify(body);
  const res = await ctx.app.inject({
    method: 'POST',
    url: `/webhooks/api/${channelId}`,
    headers: { 'content-type': 'application/json', 'x-omniline-signature': signApiBody(secret, raw) },
    payload: raw,
  });
  return { status: res.statusCode, body: res.json() };
}

/** A client message on an api channel. */
export function clientMessage(fromId: string, text = 'hello', extra: Record<string, unknown> = {}) {
  return { messageId: randomUUID(), from: { id: fromId, name: 'Client' }, text, ...extra };
}
