/** The search builder compiles to the REST filter language, and the enums hold the REST values. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as fields from '../../sdk/src/fields.ts';
import {
  createSystem,
  LineChannelState,
  LineChannelType,
  LineSessionPriority,
  LineSessionState,
  OmnilineError,
} from '../../sdk/src/index.ts';
import { botSearch } from '../../src/domain/bot/bot.service.ts';
import { channelSearch } from '../../src/domain/channel/channel.service.ts';
import { CHANNEL_STATES, CHANNEL_TYPES } from '../../src/domain/channel/channel.ts';
import { clientSearch } from '../../src/domain/client/client.service.ts';
import { contactSearch } from '../../src/domain/contact/contact.service.ts';
import { groupSearch } from '../../src/domain/group/group.service.ts';
import { lineSearch } from '../../src/domain/line/line.service.ts';
import { messageSearch } from '../../src/domain/message/message.service.ts';
import { compileSearch, type EntitySearchSpec } from '../../src/domain/search/filter.ts';
import { PRIORITIES, SESSION_STATES } from '../../src/domain/session/session.ts';
import { sessionSearch } from '../../src/domain/session/session.view.ts';
import { userSearch } from '../../src/domain/user/user.service.ts';

/** A System whose fetch records the requests and answers `answers` in turn. */
function recording(answers: unknown[] = []) {
  const sent: { method: string; url: string; body: any }[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    sent.push({ method: init.method!, url, body: init.body ? JSON.parse(String(init.body)) : undefined });
    const answer = answers.shift() ?? { items: [], total: 0 };
    const status = (answer as { status?: number }).status ?? 200;
    return new Response(JSON.stringify(answer), { status, headers: { 'content-type': 'application/json' } });
  }) as typeof globalThis.fetch;
  return { System: createSystem({ url: 'http://omniline.test/', token: 't', fetch }), sent };
}

describe('the search builder', () => {
  it('compiles the document’s open-session search to the REST filter', () => {
    const { System } = recording();
    const client = { id: '6f1c1d0e-2f8e-4a53-9a0b-1d3f5e7a9b01' };
    const body = System.lines.sessions
      .search()
      .where((f, c) =>
        c.and(f.__deletedAt.eq(null), f._clients.all([client]), f._state.neq(LineSessionState.Closed)),
      )
      .compile();
    assert.deepEqual(body, {
      where: {
        and: [
          { field: 'deletedAt', op: 'eq', value: null },
          { field: 'clientIds', op: 'all', value: [client.id] },
          { field: 'state', op: 'neq', value: 'Closed' },
        ],
      },
    });
  });

  it('compiles or, not, in, like, gt, isNull, dates, refs, size, from and sort', () => {
    const { System } = recording();
    const at = new Date('2026-01-02T03:04:05.000Z');
    const body = System.lines.sessions
      .search()
      .where((f, g) =>
        g.or(
          g.not(f._priority.gte(LineSessionPriority.High)),
          f._channel.eq('c1'),
          f._operator.isNull(false),
          f._startedAt.gt(at),
          f._state.in([LineSessionState.Waiting, LineSessionState.AssignedToBot]),
        ),
      )
      .size(50)
      .from(100)
      .sort((f) => f._startedAt, 'desc')
      .sort('state')
      .compile();
    assert.deepEqual(body, {
      where: {
        or: [
          { not: { field: 'priority', op: 'gte', value: 'High' } },
          { field: 'channelId', op: 'eq', value: 'c1' },
          { field: 'operatorId', op: 'isNull', value: false },
          { field: 'startedAt', op: 'gt', value: '2026-01-02T03:04:05.000Z' },
          { field: 'state', op: 'in', value: ['Waiting', 'AssignedToBot'] },
        ],
      },
      size: 50,
      from: 100,
      sort: [
        { field: 'startedAt', dir: 'desc' },
        { field: 'state', dir: 'asc' },
      ],
    });
    const clients = System.lines.clients
      .search()
      .where((f) => f._username.like('ivan%'))
      .compile();
    assert.deepEqual(clients.where, { field: 'username', op: 'like', value: 'ivan%' });
  });

  it('names only fields the server can search, for every collection', () => {
    const specs: [() => Record<string, { name: string }>, EntitySearchSpec][] = [
      [fields.lineFields, lineSearch],
      [fields.channelFields, channelSearch],
      [fields.clientFields, clientSearch],
      [fields.contactFields, contactSearch],
      [fields.sessionFields, sessionSearch],
      [fields.messageFields, messageSearch],
      [fields.userFields, userSearch],
      [fields.groupFields, groupSearch],
      [fields.botFields, botSearch],
    ];
    for (const [make, spec] of specs) {
      for (const [docName, handle] of Object.entries(make())) {
        assert.ok(Object.hasOwn(spec.fields, handle.name), `${docName} → ${handle.name} is not searchable`);
        // The server compiles the condition (a 400 would throw here).
        compileSearch(spec, { where: { field: handle.name, op: 'neq', value: null } });
      }
    }
  });

  it('reads every page for all() and iteration, one request for first() and count()', async () => {
    const page = (ids: string[], total: number) => ({ items: ids.map((id) => ({ id, name: id })), total });
    const { System, sent } = recording([page(['a', 'b'], 5), page(['c', 'd'], 5), page(['e'], 5)]);
    const all = await System.lines.lines.search().size(2).all();
    assert.deepEqual(
      all.map((l) => l.data.__name),
      ['a', 'b', 'c', 'd', 'e'],
    );
    assert.deepEqual(
      sent.map((s) => [s.url, s.body.size, s.body.from]),
      [
        ['http://omniline.test/api/v1/lines/search', 2, undefined],
        ['http://omniline.test/api/v1/lines/search', 2, 2],
        ['http://omniline.test/api/v1/lines/search', 2, 4],
      ],
    );
    const counted = recording([page(['a'], 42)]);
    assert.equal(await counted.System.lines.lines.search().count(), 42);
    assert.equal(counted.sent[0]!.body.size, 1);
  });

  it('fails first() with NO_MATCH when nothing matches; firstOrNull() answers null', async () => {
    const { System } = recording([
      { items: [], total: 0 },
      { items: [], total: 0 },
    ]);
    await assert.rejects(System.lines.lines.search().first(), {
      name: 'OmnilineError',
      code: 'NO_MATCH',
      status: 404,
    });
    assert.equal(await System.lines.lines.search().firstOrNull(), null);
  });

  it("surfaces the server's error code, status and details as an OmnilineError", async () => {
    const details = { errors: [{ path: 'where.field', message: 'unknown field' }] };
    const { System } = recording([
      { status: 400, error: { code: 'UNKNOWN_FIELD', message: 'where.field: unknown field', details } },
    ]);
    const err = await System.lines.sessions
      .search()
      .count()
      .catch((e: unknown) => e);
    assert.ok(err instanceof OmnilineError);
    assert.equal(err.code, 'UNKNOWN_FIELD');
    assert.equal(err.status, 400);
    assert.deepEqual(err.details, details);
    assert.equal(err.request, 'POST /api/v1/sessions/search');
  });
});

describe('the enums', () => {
  it('hold exactly the REST values', () => {
    assert.deepEqual(Object.values(LineChannelState), [...CHANNEL_STATES]);
    assert.deepEqual(Object.values(LineChannelType), [...CHANNEL_TYPES]);
    assert.deepEqual(Object.values(LineSessionState), [...SESSION_STATES]);
    assert.deepEqual(Object.values(LineSessionPriority), [...PRIORITIES]);
    for (const e of [LineChannelState, LineChannelType, LineSessionState, LineSessionPriority]) {
      for (const [key, value] of Object.entries(e)) assert.equal(key, value);
    }
  });
});
