/** Builders of test data, through the API where that is the path under test, else through services. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ChannelType } from '../../src/domain/channel/channel.ts';
import { messageRepository } from '../../src/domain/message/message.repository.ts';
import type { Role } from '../../src/domain/user/user.ts';
import type { TestContext } from './app.ts';

let seq = 0;
export const unique = (prefix: string) => `${prefix}-${process.pid}-${++seq}`;

export async function createUser(ctx: TestContext, role: Role, opts: { name?: string } = {}) {
  const login = unique(role);
  const res = await ctx.request('POST', '/api/v1/users', {
    body: { login, name: opts.name ?? login, role, password: 'password-123' },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const { token } = await ctx.services.users.login(login, 'password-123');
  return { id: res.body.id as string, login, token };
}

export async function createLine(ctx: TestContext, body: Record<string, unknown> = {}) {
  const res = await ctx.request('POST', '/api/v1/lines', { body: { name: unique('line'), ...body } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { id: string; name: string; settings: { applicationType: string | null } };
}

/**
 * Settings that satisfy a provider-backed channel type without a messenger behind it. The api
 * channel's callback goes nowhere (a closed loopback port): replies can be sent, and fail in the
 * worker; tests of delivery give their channel a callback server of its own.
 */
const DEFAULT_SETTINGS: Partial<Record<ChannelType, Record<string, unknown>>> = {
  api: { secret: 'test-api-secret-0123456789', callbackUrl: 'http://127.0.0.1:9/nowhere' },
};

export async function createChannel(
  ctx: TestContext,
  lineId: string,
  type: ChannelType = 'api',
  extra: Record<string, unknown> = {},
) {
  const body = { lineId, name: unique('channel'), type, settings: DEFAULT_SETTINGS[type], ...extra };
  const res = await ctx.request('POST', '/api/v1/channels', { body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { id: string; lineId: string; type: ChannelType; state: string };
}

/** A line with one channel and an operator and a supervisor serving it. */
export async function createWorld(ctx: TestContext, type: ChannelType = 'api') {
  const operator = await createUser(ctx, 'operator');
  const supervisor = await createUser(ctx, 'supervisor');
  const line = await createLine(ctx, { operatorIds: [operator.id, supervisor.id] });
  const channel = await createChannel(ctx, line.id, type);
  return { line, channel, operator, supervisor };
}

/** Opens a session with a new account as the admin (it waits in the queue). */
export async function openSession(
  ctx: TestContext,
  channelId: string,
  account = unique('user').replace(/-/g, '_'),
) {
  const res = await ctx.request('POST', '/api/v1/sessions', { body: { channelId, account } });
  assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
  return res.body as {
    id: string;
    state: string;
    clientIds: string[];
    channelId: string;
    lineId: string;
    previousSessionId: string | null;
  };
}

export async function addMessage(
  ctx: TestContext,
  session: { id: string; channelId: string },
  fields: {
    text?: string;
    direction?: 'incoming' | 'outgoing';
    senderType?: string;
    externalId?: string;
  } = {},
) {
  return messageRepository.insert(ctx.db, {
    sessionId: session.id,
    channelId: session.channelId,
    direction: fields.direction ?? 'incoming',
    type: 'text',
    text: fields.text ?? 'hello',
    senderType: fields.senderType ?? 'client',
    externalId: fields.externalId ?? randomUUID(),
    status: 'sent',
  });
}
