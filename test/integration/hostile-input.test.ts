/**
 * Hostile input over every operation of the app's own OpenAPI document, as admin: malformed JSON,
 * wrong types, huge strings, deep nesting, NUL and unpaired surrogates, injection strings, huge
 * numbers, bad and very long ids. Every answer must be a 4xx in the documented error shape (or a 2xx
 * where the input is legitimately acceptable, which then round-trips), a 400 must name the field, and
 * the server must stay healthy. Failures are collected per operation so one run lists them all.
 *
 * Each operation needs a row in OPERATIONS (a valid request to mutate), so a new route without one
 * fails the coverage test.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { before, it } from 'node:test';
import { signApiBody } from '../../src/providers/api/api.provider.ts';
import { updateToEvents } from '../../src/providers/telegram/telegram-update.converter.ts';
import { describeEachDatabase } from '../helpers/app.ts';
import { createChannel, createLine, createUser, unique } from '../helpers/factories.ts';
import {
  DEEP,
  deepArray,
  deepObject,
  type Expect,
  HUGE,
  INJECTIONS,
  judge,
  multipartBody,
  PARAM_VALUES,
  type PropSchema,
  propertyCases,
  QUERY_VALUES,
  RAW,
  type Req,
  type Res,
  rawJson,
  send,
  wholeBodyCases,
} from '../helpers/hostile.ts';
import { API_SECRET, clientMessage } from '../helpers/webhooks.ts';

// ---------------------------------------------------------------------------------------------
// The operations: a valid request for each, to mutate

interface Fixtures {
  operatorId: string;
  lineId: string;
  groupId: string;
  botId: string;
  apiChannelId: string;
  spareChannelId: string;
  livechatChannelId: string;
  visitorToken: string;
  sessionId: string;
  clientId: string;
  contactId: string;
  messageId: string;
  fileId: string;
  spareToken: string;
}

interface Operation {
  /** A valid body for the operation (a function: fresh unique values per case). */
  body?: (f: Fixtures) => Record<string, unknown>;
  /** A body validated by hand rather than by a schema in the document: its properties and types. */
  handBody?: Record<string, PropSchema>;
  /** The id substituted for {id}. */
  id?: (f: Fixtures) => string;
  /** Values of path parameters other than {id} (default: the parameter's name, refused). */
  params?: (f: Fixtures) => Record<string, string>;
  /** Why this operation's hostile cases cannot run here (the test is skipped, saying so). */
  skip?: string;
  /** A valid query string (`?…`) for an operation that requires one. */
  query?: string;
  /** The response echoes the body's fields (injection strings must round-trip). */
  echoes?: boolean;
  multipart?: boolean;
  webhook?: boolean;
  /** No bearer token needed. */
  public?: boolean;
  /** The token to act with (default: the admin's). */
  token?: (f: Fixtures) => string;
  /** What a well-formed id nobody has gets (default: 404 `*_NOT_FOUND`). */
  unknownId?: Expect;
}

const search: Operation = { body: () => ({}) };
const livechat = (f: Fixtures) => ({ channelId: f.livechatChannelId });
/** The visitor's calls carry the visitor token the fixtures got from POST …/visitors. */
const visitor = { public: true, params: livechat, token: (f: Fixtures) => f.visitorToken } as const;

const ids = {
  users: (f: Fixtures) => f.operatorId,
  lines: (f: Fixtures) => f.lineId,
  groups: (f: Fixtures) => f.groupId,
  bots: (f: Fixtures) => f.botId,
  channels: (f: Fixtures) => f.spareChannelId,
  clients: (f: Fixtures) => f.clientId,
  contacts: (f: Fixtures) => f.contactId,
  sessions: (f: Fixtures) => f.sessionId,
  messages: (f: Fixtures) => f.messageId,
  files: (f: Fixtures) => f.fileId,
};

const OPERATIONS: Record<string, Operation> = {
  'GET /healthz': { public: true },
  'GET /metrics': { public: true },
  'POST /webhooks/{provider}/{channelId}': { webhook: true, public: true },
  'GET /webhooks/{provider}/{channelId}': { webhook: true, public: true },
  'POST /api/v1/auth/login': {
    public: true,
    body: () => ({ login: 'hostile-nobody', password: 'not-the-password' }),
  },
  // A token of its own: were a hostile logout accepted, it must not revoke the admin's.
  'POST /api/v1/auth/logout': { token: (f) => f.spareToken },
  'POST /api/v1/auth/unlock': { body: () => ({ login: 'hostile-nobody', ip: '192.0.2.1' }) },
  'GET /api/v1/me': {},
  'POST /api/v1/audit/search': search,
  'GET /api/v1/audit': {},
  'POST /api/v1/users': {
    echoes: true,
    body: () => ({ login: unique('hostile'), name: 'Hostile', role: 'operator', password: 'password-123' }),
  },
  'GET /api/v1/users/{id}': { id: ids.users },
  'PATCH /api/v1/users/{id}': { id: ids.users, echoes: true, body: () => ({ name: 'Renamed' }) },
  'DELETE /api/v1/users/{id}': { id: ids.users },
  'POST /api/v1/users/search': search,
  'GET /api/v1/users': {},
  'POST /api/v1/users/{id}/tokens': { id: ids.users, body: () => ({ name: 'integration' }) },
  'POST /api/v1/lines': { echoes: true, body: () => ({ name: unique('line') }) },
  'GET /api/v1/lines/{id}': { id: ids.lines },
  'PATCH /api/v1/lines/{id}': { id: ids.lines, echoes: true, body: () => ({ name: 'Renamed line' }) },
  'DELETE /api/v1/lines/{id}': { id: ids.lines },
  'POST /api/v1/lines/search': search,
  'GET /api/v1/lines': {},
  'POST /api/v1/groups': { echoes: true, body: () => ({ name: unique('group') }) },
  'GET /api/v1/groups/{id}': { id: ids.groups },
  'PATCH /api/v1/groups/{id}': { id: ids.groups, echoes: true, body: () => ({ name: 'Renamed group' }) },
  'DELETE /api/v1/groups/{id}': { id: ids.groups },
  'POST /api/v1/groups/search': search,
  'GET /api/v1/groups': {},
  'POST /api/v1/bots': { echoes: true, body: () => ({ name: unique('bot') }) },
  'POST /api/v1/bots/{id}/tokens': { id: ids.bots },
  'GET /api/v1/bots/{id}': { id: ids.bots },
  'PATCH /api/v1/bots/{id}': { id: ids.bots, echoes: true, body: () => ({ name: 'Renamed bot' }) },
  'DELETE /api/v1/bots/{id}': { id: ids.bots },
  'POST /api/v1/bots/search': search,
  'GET /api/v1/bots': {},
  'POST /api/v1/channels': {
    echoes: true,
    body: (f) => ({
      lineId: f.lineId,
      name: unique('channel'),
      type: 'api',
      source: unique('src'),
      settings: { secret: API_SECRET },
    }),
  },
  'GET /api/v1/channels/{id}': { id: ids.channels },
  'PATCH /api/v1/channels/{id}': {
    id: ids.channels,
    echoes: true,
    body: () => ({ name: 'Renamed channel' }),
  },
  'DELETE /api/v1/channels/{id}': { id: ids.channels },
  'POST /api/v1/channels/search': search,
  'GET /api/v1/channels': {},
  'POST /api/v1/channels/{id}/disconnect': { id: ids.channels },
  'POST /api/v1/channels/{id}/reconnect': { id: ids.channels },
  'GET /api/v1/clients/{id}': { id: ids.clients },
  'PATCH /api/v1/clients/{id}': { id: ids.clients, echoes: true, body: () => ({ firstName: 'Ann' }) },
  'POST /api/v1/clients/search': search,
  'GET /api/v1/clients': {},
  'POST /api/v1/contacts': { echoes: true, body: () => ({ name: unique('contact') }) },
  'GET /api/v1/contacts/{id}': { id: ids.contacts },
  'PATCH /api/v1/contacts/{id}': {
    id: ids.contacts,
    echoes: true,
    body: () => ({ name: 'Renamed contact' }),
  },
  'DELETE /api/v1/contacts/{id}': { id: ids.contacts },
  'POST /api/v1/contacts/search': search,
  'GET /api/v1/contacts': {},
  'POST /api/v1/contacts/{id}/merge': { id: ids.contacts, body: () => ({ sourceId: randomUUID() }) },
  'POST /api/v1/sessions': { body: (f) => ({ channelId: f.apiChannelId, account: unique('account') }) },
  'GET /api/v1/sessions/{id}': { id: ids.sessions },
  'PATCH /api/v1/sessions/{id}': { id: ids.sessions, body: () => ({ priority: 'High' }) },
  'POST /api/v1/sessions/search': search,
  'GET /api/v1/sessions': {},
  'POST /api/v1/sessions/{id}/assign': { id: ids.sessions, body: (f) => ({ operatorId: f.operatorId }) },
  'POST /api/v1/sessions/{id}/close': { id: ids.sessions },
  'POST /api/v1/sessions/{id}/spam': { id: ids.sessions },
  'DELETE /api/v1/sessions/{id}/spam': { id: ids.sessions },
  'GET /api/v1/sessions/{id}/history': { id: ids.sessions },
  'GET /api/v1/sessions/{id}/messages': { id: ids.sessions },
  'POST /api/v1/sessions/{id}/messages': {
    id: ids.sessions,
    echoes: true,
    body: () => ({ text: 'hello' }),
    handBody: { text: { type: 'string', maxLength: 10_000 }, fileIds: { type: 'array' } },
    multipart: true,
  },
  'GET /api/v1/sessions/{id}/last-message': { id: ids.sessions },
  'POST /api/v1/messages/search': search,
  'GET /api/v1/messages': {},
  'PATCH /api/v1/messages/{id}': { id: ids.messages, body: () => ({ text: 'edited' }) },
  'POST /api/v1/files': { multipart: true },
  'GET /api/v1/files/{id}': { id: ids.files },
  // A signed link is checked before the file is looked up: without one, any id is refused alike.
  'GET /api/v1/files/{id}/download': {
    id: ids.files,
    public: true,
    unknownId: { status: [403], code: 'INVALID_DOWNLOAD_LINK' },
  },
  'GET /api/v1/lines/{id}/metrics': { id: ids.lines },
  'GET /api/v1/me/status': {},
  'PUT /api/v1/me/status': { body: () => ({ status: 'away' }) },
  'GET /api/v1/me/sessions': {},
  'GET /api/v1/me/unread': {},
  'POST /api/v1/sessions/{id}/notes': { id: ids.sessions, echoes: true, body: () => ({ text: 'a note' }) },
  'GET /api/v1/desk/chats': { query: '?list=mine' },
  'GET /api/v1/desk/chats/{id}': { id: ids.sessions },
  'POST /api/v1/desk/chats/search': search,
  'GET /api/v1/desk/staff': {},
  'GET /api/v1/canned-replies': {},
  'POST /api/v1/canned-replies': { echoes: true, body: () => ({ shortcut: unique('sc'), text: 'Hello' }) },
  'PATCH /api/v1/canned-replies/{id}': { body: () => ({ text: 'Hello again' }) },
  'DELETE /api/v1/canned-replies/{id}': {},
  'GET /livechat/{channelId}/config': { public: true, params: livechat },
  'POST /livechat/{channelId}/visitors': { public: true, params: livechat },
  'POST /livechat/{channelId}/files': { ...visitor, multipart: true },
  'POST /livechat/{channelId}/messages': {
    ...visitor,
    body: () => ({ event: 'message', messageId: randomUUID(), text: 'hello' }),
    handBody: {
      event: { type: 'string', enum: ['message', 'read', 'typing', 'close'] },
      messageId: { type: 'string', format: 'uuid' },
      text: { type: 'string', maxLength: 10_000 },
      files: { type: 'array' },
    },
  },
  'GET /livechat/{channelId}/messages': visitor,
  'POST /livechat/{channelId}/rating': { ...visitor, body: () => ({ sessionId: randomUUID(), rating: 5 }) },
  'POST /api/v1/sessions/{id}/accept': { id: ids.sessions },
  'POST /api/v1/sessions/{id}/read': { id: ids.sessions },
  'GET /api/v1/sessions/{id}/actions': { id: ids.sessions },
  'POST /api/v1/sessions/{id}/transfer': { id: ids.sessions, body: (f) => ({ operatorId: f.operatorId }) },
  'POST /api/v1/sessions/{id}/return-to-queue': { id: ids.sessions },
  'POST /api/v1/sessions/{id}/handover': { id: ids.sessions },
};

// ---------------------------------------------------------------------------------------------

/** A query parameter that is any text (no enum, format or pattern): a free-text filter. */
function isFreeText(schema: PropSchema | undefined): boolean {
  return !!schema && schema.type === 'string' && !schema.enum && !schema.format && !schema.pattern;
}

interface DocOperation {
  parameters?: { in: string; name: string; schema?: PropSchema }[];
  requestBody?: { content?: Record<string, { schema?: PropSchema & { anyOf?: PropSchema[] } }> };
}

let casesRun = 0;

describeEachDatabase(
  'hostile input',
  (ctx) => {
    let doc: { paths: Record<string, Record<string, DocOperation>> };
    let f: Fixtures;

    before(async () => {
      doc = (await send(ctx(), { method: 'GET', url: '/api/docs/json', token: null })).body;
      const operator = await createUser(ctx(), 'operator');
      const spare = await createUser(ctx(), 'supervisor');
      const line = await createLine(ctx(), { operatorIds: [operator.id] });
      const apiChannel = await createChannel(ctx(), line.id, 'api');
      const spareChannel = await createChannel(ctx(), line.id, 'api');
      const livechatChannel = await createChannel(ctx(), line.id, 'livechat');
      const posted = await signedWebhook(apiChannel.id, clientMessage(unique('client')));
      assert.equal(posted.status, 200, JSON.stringify(posted.body));
      const sessions = await send(ctx(), {
        method: 'POST',
        url: '/api/v1/sessions/search',
        json: { where: { field: 'channelId', op: 'eq', value: apiChannel.id } },
      });
      const session = sessions.body.items[0];
      const messages = await send(ctx(), { method: 'GET', url: `/api/v1/sessions/${session.id}/messages` });
      const group = await send(ctx(), {
        method: 'POST',
        url: '/api/v1/groups',
        json: { name: unique('group') },
      });
      const bot = await send(ctx(), { method: 'POST', url: '/api/v1/bots', json: { name: unique('bot') } });
      const contact = await send(ctx(), {
        method: 'POST',
        url: '/api/v1/contacts',
        json: { name: unique('c') },
      });
      const visitorReply = await send(ctx(), {
        method: 'POST',
        url: `/livechat/${livechatChannel.id}/visitors`,
        json: { name: 'Hostile visitor' },
        token: null,
      });
      assert.equal(visitorReply.status, 200, JSON.stringify(visitorReply.body));
      const upload = multipartBody([{ name: 'file', filename: 'a.txt', type: 'text/plain', value: 'hello' }]);
      const file = await send(ctx(), { method: 'POST', url: '/api/v1/files', ...upload });
      assert.equal(file.status, 201, JSON.stringify(file.body));
      f = {
        operatorId: operator.id,
        lineId: line.id,
        groupId: group.body.id,
        botId: bot.body.id,
        apiChannelId: apiChannel.id,
        spareChannelId: spareChannel.id,
        livechatChannelId: livechatChannel.id,
        visitorToken: visitorReply.body.token,
        sessionId: session.id,
        clientId: session.clientIds[0],
        contactId: contact.body.id,
        messageId: messages.body.items[0].id,
        fileId: file.body.items[0].id,
        spareToken: spare.token,
      };
    });

    async function signedWebhook(channelId: string, body: unknown, raw = JSON.stringify(body)) {
      return send(ctx(), {
        method: 'POST',
        url: `/webhooks/api/${channelId}`,
        payload: raw,
        token: null,
        headers: { 'x-omniline-signature': signApiBody(API_SECRET, raw) },
      });
    }

    it('has a row for every operation of the OpenAPI document', () => {
      const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
      );
      assert.ok(documented.length > 50, `only ${documented.length} operations documented`);
      assert.deepEqual(
        documented.filter((k) => !Object.hasOwn(OPERATIONS, k)),
        [],
        'operations without a row in OPERATIONS',
      );
    });

    for (const [key, spec] of Object.entries(OPERATIONS)) {
      it(`${key}: hostile input gets a 4xx in the documented shape, naming the field`, async (t) => {
        const [method, path] = key.split(' ') as [string, string];
        const op = doc.paths[path]?.[method.toLowerCase()];
        if (!op) return t.skip('not in this build of the document');
        if (spec.skip) return t.skip(spec.skip);
        const failures: string[] = [];
        const check = async (name: string, req: Req, expect: Expect) => {
          casesRun++;
          const res = await send(ctx(), { ...(spec.token && { token: spec.token(f) }), ...req });
          const problem = judge(res, expect);
          if (problem) failures.push(`${name}: ${problem}`);
          return res;
        };
        const idOf = spec.id ?? (() => randomUUID());
        const urlWith = (params: Record<string, string> = {}, query = spec.query ?? '') =>
          `${path.replace(/\{(\w+)\}/g, (_, p: string) => params[p] ?? spec.params?.(f)[p] ?? (p === 'id' ? idOf(f) : p))}${query}`;
        const hasBody = method !== 'GET' && method !== 'HEAD';
        const jsonSchema = op.requestBody?.content?.['application/json']?.schema;
        const props: Record<string, PropSchema> = {
          ...(jsonSchema?.properties ?? {}),
          ...Object.assign({}, ...(jsonSchema?.anyOf ?? []).map((b) => b.properties ?? {})),
          ...(spec.handBody ?? {}),
        };
        const union = !!jsonSchema?.anyOf;

        if (spec.webhook) {
          await webhookCases(check, method, f);
        } else {
          // The body: as a whole, then property by property.
          if (hasBody) {
            const base = spec.body?.(f) ?? null;
            for (const c of wholeBodyCases(base)) {
              await check(`body ${c.name}`, { method, url: urlWith(), payload: c.payload }, c.expect);
            }
            await check(
              'unsupported content type',
              { method, url: urlWith(), payload: '<a>1</a>', contentType: 'application/xml' },
              { status: [415], code: 'UNSUPPORTED_MEDIA_TYPE' },
            );
            await check(
              'oversized body',
              { method, url: urlWith(), payload: JSON.stringify({ x: 'y'.repeat(1024 * 1024 + 10) }) },
              { status: [413], code: 'PAYLOAD_TOO_LARGE' },
            );
            if (jsonSchema || spec.handBody) {
              await check(
                'body is an array',
                { method, url: urlWith(), payload: '[]' },
                { status: [400], pathPrefix: 'body' },
              );
              await check(
                'body is a string',
                { method, url: urlWith(), payload: '"x"' },
                { status: [400], pathPrefix: 'body' },
              );
            }
            for (const [prop, schema] of Object.entries(props)) {
              for (const c of propertyCases(spec.body?.(f) ?? {}, prop, schema, {
                union,
                echoes: !!spec.echoes,
              })) {
                await check(`${prop} ${c.name}`, { method, url: urlWith(), payload: c.payload }, c.expect);
              }
            }
            if (path.endsWith('/search')) await searchCases(check, urlWith());
          }
          if (spec.multipart) await multipartCases(check, urlWith());
          // Path parameters: bad, hostile and very long ids, and a well-formed id that does not exist.
          const body = hasBody && spec.body ? JSON.stringify(spec.body(f)) : undefined;
          for (const param of (op.parameters ?? []).filter((p) => p.in === 'path')) {
            for (const [name, value, expect] of PARAM_VALUES) {
              await check(
                `params.${param.name} ${name}`,
                { method, url: urlWith({ [param.name]: value }), payload: body },
                expect.status?.includes(400) && !expect.code
                  ? { ...expect, path: `params.${param.name}` }
                  : expect,
              );
            }
            await check(
              `params.${param.name} unknown id`,
              { method, url: urlWith({ [param.name]: randomUUID() }), payload: body },
              spec.unknownId ?? { status: [404], codePattern: /_NOT_FOUND$/ },
            );
          }
          // Query parameters: numbers that are not, and strings nobody should send. A free-text filter
          // (`GET /clients?username=…`) takes any text within its length: there, words, digits and
          // injection strings are plain values and must be answered 200; NUL and oversize still refused.
          for (const param of (op.parameters ?? []).filter((p) => p.in === 'query')) {
            for (const [name, value] of QUERY_VALUES) {
              const legitimate =
                isFreeText(param.schema) &&
                name !== 'NUL' &&
                decodeURIComponent(value).length <= (param.schema?.maxLength ?? Number.POSITIVE_INFINITY);
              await check(
                `querystring.${param.name} ${name}`,
                { method, url: urlWith({}, `?${param.name}=${value}`), payload: body },
                legitimate
                  ? { mayAccept: true, status: [200] }
                  : { status: [400], path: `querystring.${param.name}` },
              );
            }
          }
          await check(
            'NUL in an undeclared query parameter',
            { method, url: urlWith({}, '?extra=a%00b'), payload: body },
            { status: [400], path: 'querystring.extra' },
          );
          if (!spec.public) {
            await check(
              'a 5000-character token',
              { method, url: urlWith(), payload: body, token: 'x'.repeat(5000) },
              { status: [401] },
            );
          }
        }

        const health = await send(ctx(), { method: 'GET', url: '/healthz', token: null });
        assert.equal(health.status, 200, `unhealthy after ${key}: ${JSON.stringify(health.body)}`);
        assert.deepEqual(failures, [], `${failures.length} hostile requests to ${key} were mishandled`);
      });
    }

    type Check = (name: string, req: Req, expect: Expect) => Promise<Res>;

    async function searchCases(check: Check, url: string) {
      const post = (json: unknown): Req => ({ method: 'POST', url, json });
      for (const field of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
        await check(`where.field ${field}`, post({ where: { field, op: 'eq', value: 'x' } }), {
          status: [400],
          code: 'UNKNOWN_FIELD',
          path: 'where.field',
        });
        await check(`sort field ${field}`, post({ sort: [{ field, dir: 'asc' }] }), {
          status: [400],
          code: 'UNKNOWN_FIELD',
          path: 'sort[0].field',
        });
      }
      await check('where value NUL', post({ where: { field: 'id', op: 'eq', value: '\u0000' } }), {
        status: [400],
        path: 'body.where.value',
      });
      await check(
        'nested where value lone surrogate',
        post({ where: { and: [{ field: 'id', op: 'eq', value: '\ud800' }] } }),
        { status: [400], path: 'body.where.and[0].value' },
      );
      await check(
        'where value 1e309',
        {
          method: 'POST',
          url,
          payload: rawJson({ where: { field: 'id', op: 'eq', value: RAW } }, { [RAW]: '1e309' }),
        },
        { status: [400], path: 'body.where.value' },
      );
      await check(
        'where 10,000 nots deep',
        {
          method: 'POST',
          url,
          payload: `${'{"where":'}${'{"not":'.repeat(DEEP)}{"field":"id","op":"isNull","value":true}${'}'.repeat(DEEP + 1)}`,
        },
        { status: [400], pathPrefix: 'body.where.not' },
      );
      await check('where id injection', post({ where: { field: 'id', op: 'eq', value: INJECTIONS[0] } }), {
        status: [400],
        path: 'where.value',
      });
      await check('where field injection', post({ where: { field: INJECTIONS[0], op: 'eq', value: 'x' } }), {
        status: [400],
        code: 'UNKNOWN_FIELD',
      });
      await check('where op injection', post({ where: { field: 'id', op: INJECTIONS[0], value: 'x' } }), {
        status: [400],
        code: 'UNKNOWN_OP',
      });
      if (/\/(users|lines|groups|bots|channels|contacts)\/search$/.test(url)) {
        for (const injection of INJECTIONS) {
          await check(
            `where name eq ${injection}`,
            post({ where: { field: 'name', op: 'like', value: injection } }),
            {
              mayAccept: true,
            },
          );
        }
      }
    }

    async function multipartCases(check: Check, url: string) {
      const mp = (parts: Parameters<typeof multipartBody>[0]): Req => ({
        method: 'POST',
        url,
        ...multipartBody(parts),
      });
      await check(
        'multipart without a boundary',
        { method: 'POST', url, payload: 'garbage', contentType: 'multipart/form-data' },
        { status: [400, 406, 415] },
      );
      await check(
        'multipart cut short',
        {
          method: 'POST',
          url,
          payload: '--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc',
          contentType: 'multipart/form-data; boundary=b',
        },
        { status: [400] },
      );
      await check(
        'multipart with a malformed part header',
        {
          method: 'POST',
          url,
          payload: '--b\r\nnonsense\r\n\r\nabc\r\n--b--\r\n',
          contentType: 'multipart/form-data; boundary=b',
        },
        { status: [400] },
      );
      await check('multipart text with NUL', mp([{ name: 'text', value: 'hi\u0000there' }]), {
        status: [400],
        path: 'body.text',
      });
      await check(
        'multipart file name with NUL',
        mp([{ name: 'file', filename: 'a\u0000.txt', type: 'text/plain', value: 'x' }]),
        { status: [400], pathPrefix: 'body' },
      );
      await check('multipart unknown field', mp([{ name: 'bad\u0000name', value: 'x' }]), {
        status: [400],
        pathPrefix: 'body',
      });
      await check(
        'multipart file name injection',
        mp([{ name: 'file', filename: INJECTIONS[0]!, type: 'text/plain', value: 'x' }]),
        { mayAccept: true },
      );
    }

    async function webhookCases(check: Check, method: string, fx: Fixtures) {
      const url = `/webhooks/api/${fx.apiChannelId}`;
      if (method === 'GET') {
        await check(
          'verify a webhook that has no challenge',
          { method, url, token: null },
          { status: [405] },
        );
        await check(
          'NUL in the query',
          { method, url: `${url}?hub.challenge=a%00`, token: null },
          {
            status: [400],
            path: 'querystring["hub.challenge"]',
          },
        );
      } else {
        const signed = (raw: string): Req => ({
          method,
          url,
          payload: raw,
          token: null,
          headers: { 'x-omniline-signature': signApiBody(API_SECRET, raw) },
        });
        const message = (over: Record<string, unknown>) =>
          JSON.stringify({ ...clientMessage(unique('u')), ...over });
        await check(
          'unsigned malformed JSON',
          { method, url, payload: '{"a":', token: null },
          {
            status: [401],
            code: 'INVALID_SIGNATURE',
          },
        );
        await check('signed malformed JSON', signed('{"a":'), { status: [400], code: 'INVALID_JSON' });
        await check('signed deep nesting', signed(deepArray), { status: [400], pathPrefix: 'body' });
        await check(
          'text deep nesting',
          signed(rawJson(clientMessage('u'), {}).replace('"hello"', deepArray)),
          {
            status: [400],
            path: 'body.text',
          },
        );
        for (const [field, over] of [
          ['body.from.id', { from: { id: 'u\u0000x', name: 'Ann' } }],
          ['body.from.id', { from: { id: 'u\ud800x', name: 'Ann' } }],
          ['body.messageId', { messageId: 'm\u0000x' }],
          ['body.messageId', { messageId: 'm\udbffx' }],
          ['body.attachments[0].url', { attachments: [{ url: 'https://x.test/\u0000' }] }],
        ] as const) {
          await check(`identifier ${JSON.stringify(over)}`, signed(message(over)), {
            status: [400],
            code: 'INVALID_PAYLOAD',
            path: field,
          });
        }
        await check(
          'timestamp 1e309',
          signed(message({ timestamp: RAW }).replace(JSON.stringify(RAW), '1e309')),
          {
            status: [400],
            path: 'body.timestamp',
          },
        );
        await check('timestamp -8.64e15', signed(message({ timestamp: -8.64e15 })), {
          status: [400],
          path: 'body.timestamp',
        });
        await check('text 300,000 characters', signed(message({ text: HUGE })), {
          status: [400],
          path: 'body.text',
        });
        for (const injection of INJECTIONS) {
          await check(`text ${injection}`, signed(message({ text: injection })), { mayAccept: true });
        }
        await check(
          'unknown provider',
          { method, url: `/webhooks/%00/${fx.apiChannelId}`, token: null },
          {
            status: [400],
            path: 'params.provider',
          },
        );
        await check(
          'unknown channel',
          { method, url: `/webhooks/api/${'a'.repeat(10_000)}`, token: null },
          {
            status: [404],
            code: 'CHANNEL_NOT_FOUND',
          },
        );
      }
    }

    it('stores webhook text and names with NUL and unpaired surrogates, cleaned, and acknowledges them', async () => {
      const externalId = unique('nul-client');
      const body = {
        messageId: unique('m'),
        from: { id: externalId, name: 'Ann\u0000 \ud800Lee', username: 'ann\u0000' },
        text: 'hi\u0000 there \udc00! 😀',
      };
      const res = await signedWebhook(f.apiChannelId, body);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.stored, 1);
      const sessions = await send(ctx(), {
        method: 'POST',
        url: '/api/v1/clients/search',
        json: { where: { field: 'externalId', op: 'eq', value: externalId } },
      });
      const client = sessions.body.items[0];
      assert.equal(client.firstName, 'Ann');
      assert.equal(client.lastName, '\ufffdLee');
      assert.equal(client.username, 'ann');
      const session = await send(ctx(), {
        method: 'POST',
        url: '/api/v1/sessions/search',
        json: { where: { field: 'clientIds', op: 'eq', value: client.id } },
      });
      const page = await send(ctx(), {
        method: 'GET',
        url: `/api/v1/sessions/${session.body.items[0].id}/messages`,
      });
      assert.equal(page.body.items[0].text, 'hi there \ufffd! 😀');
      // The same message again is a duplicate, not a second row: ids were not altered.
      const again = await signedWebhook(f.apiChannelId, body);
      assert.deepEqual([again.status, again.body.stored, again.body.duplicates], [200, 0, 1]);
    });

    it('stores an edit whose text has NUL, cleaned', async () => {
      const from = { id: unique('edit-client'), name: 'Ed' };
      const messageId = unique('m');
      assert.equal((await signedWebhook(f.apiChannelId, { messageId, from, text: 'first' })).status, 200);
      const edited = await signedWebhook(f.apiChannelId, {
        event: 'edited',
        messageId,
        from,
        text: 'sec\u0000ond\ud800',
      });
      assert.deepEqual([edited.status, edited.body.updated], [200, 1]);
      const found = await send(ctx(), {
        method: 'POST',
        url: '/api/v1/messages/search',
        json: { where: { field: 'externalId', op: 'eq', value: messageId } },
      });
      assert.equal(found.body.items[0]?.text, 'second\ufffd');
    });

    it('stores a Telegram update whose text and names have NUL, through the same inbound path', async () => {
      const channel = await ctx().services.channelCache.get(f.apiChannelId);
      assert.ok(channel);
      const events = updateToEvents({
        update_id: 1,
        message: {
          message_id: 4242,
          date: 1_767_261_600,
          chat: { id: 99_001, type: 'private' },
          from: { id: 99_001, is_bot: false, first_name: 'Te\u0000d', last_name: '\ud800' },
          text: 'tele\u0000gram',
        },
      });
      const result = await ctx().platform.inbound.receive(channel, events);
      assert.equal(result.stored, 1);
      const found = await send(ctx(), {
        method: 'POST',
        url: '/api/v1/messages/search',
        json: { where: { field: 'channelId', op: 'eq', value: f.apiChannelId } },
      });
      assert.ok(
        found.body.items.some((m: { text: string }) => m.text === 'telegram'),
        JSON.stringify(found.body.items.map((m: { text: string }) => m.text)),
      );
    });

    it('keeps an injection string as a plain value: it round-trips and drops nothing', async () => {
      const name = `${INJECTIONS[0]} ${unique('x')}`;
      const created = await send(ctx(), { method: 'POST', url: '/api/v1/lines', json: { name } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const read = await send(ctx(), { method: 'GET', url: `/api/v1/lines/${created.body.id}` });
      assert.equal(read.body.name, name);
      const found = await send(ctx(), {
        method: 'POST',
        url: '/api/v1/lines/search',
        json: { where: { field: 'name', op: 'eq', value: name } },
      });
      assert.equal(found.body.total, 1);
      assert.equal(
        (await send(ctx(), { method: 'GET', url: '/api/v1/me' })).status,
        200,
        'users table intact',
      );
    });

    it('caps free-form settings in depth and size, naming the field', async () => {
      const deep = await send(ctx(), {
        method: 'POST',
        url: '/api/v1/bots',
        payload: `{"name":"deep","settings":{"x":${deepObject}}}`,
      });
      assert.equal(deep.status, 400);
      assert.match(deep.body.error.details.errors[0].path, /^body\.settings\.x\.a\.a/);
      const big = await send(ctx(), {
        method: 'PATCH',
        url: `/api/v1/bots/${f.botId}`,
        json: { settings: { blob: 'y'.repeat(20_000) } },
      });
      assert.equal(big.status, 400);
      assert.equal(big.body.error.details.errors[0].path, 'body.settings');
      const many = await send(ctx(), {
        method: 'PATCH',
        url: `/api/v1/channels/${f.spareChannelId}`,
        json: { settings: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i])) },
      });
      assert.equal(many.status, 400);
      assert.equal(many.body.error.details.errors[0].path, 'body.settings');
      const fine = await send(ctx(), {
        method: 'PATCH',
        url: `/api/v1/bots/${f.botId}`,
        json: { settings: { nested: { a: { b: { c: 1 } } } } },
      });
      assert.equal(fine.status, 200, JSON.stringify(fine.body));
    });

    it('ran thousands of hostile requests', (t) => {
      t.diagnostic(`${casesRun} hostile requests so far`);
      assert.ok(casesRun > 2000, `only ${casesRun} cases ran`);
    });
    // Hundreds of requests from one address and one visitor: the live-chat limits (429 first) are off.
  },
  { security: { livechatIpRateLimit: 0, livechatVisitorRateLimit: 0 } },
);

describeEachDatabase(
  'hostile HTTP',
  (ctx) => {
    /** Writes raw bytes to the listening server and returns its answer. */
    function raw(request: string): Promise<{ status: number; body: any }> {
      const { port } = new URL(ctx().url!);
      return new Promise((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1');
        let data = '';
        socket.on('data', (chunk) => {
          data += chunk.toString();
        });
        socket.on('error', reject);
        socket.on('close', () => {
          const [head = '', body = ''] = data.split('\r\n\r\n');
          const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]);
          try {
            resolve({ status, body: JSON.parse(body) });
          } catch {
            resolve({ status, body });
          }
        });
        socket.end(request);
      });
    }

    it('answers oversized headers with 431 in the documented shape', async () => {
      const res = await raw(`GET /api/v1/sessions/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal(res.status, 431);
      assert.equal(res.body.error.code, 'HEADERS_TOO_LARGE');
      assert.equal(typeof res.body.error.message, 'string');
    });

    it('answers a request that is not HTTP with 400 in the documented shape', async () => {
      const res = await raw('NONSENSE\r\n\r\n');
      assert.equal(res.status, 400);
      assert.deepEqual(Object.keys(res.body.error).sort(), ['code', 'message']);
      assert.equal(res.body.error.code, 'BAD_REQUEST');
      const health = await fetch(`${ctx().url}/healthz`);
      assert.equal(health.status, 200);
    });
  },
  { listen: true },
);
