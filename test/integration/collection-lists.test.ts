/**
 * `GET /api/v1/<entity>` beside every `POST …/search`: simple filters, `limit` and an opaque
 * `cursor`, answered by the same search (so the same items, the same role scoping), and bad query
 * parameters refused with a 400 naming the parameter.
 */
import assert from 'node:assert/strict';
import { before, it } from 'node:test';
import { describeEachDatabase, type TestContext } from '../helpers/app.ts';
import {
  addMessage,
  createChannel,
  createLine,
  createUser,
  openSession,
  unique,
} from '../helpers/factories.ts';

type World = Awaited<ReturnType<typeof build>>;

async function build(ctx: TestContext) {
  const operator = await createUser(ctx, 'operator');
  const supervisor = await createUser(ctx, 'supervisor');
  const lineA = await createLine(ctx, { operatorIds: [operator.id, supervisor.id] });
  const lineB = await createLine(ctx);
  const a = await createChannel(ctx, lineA.id, 'api');
  const b = await createChannel(ctx, lineB.id, 'api');
  const sessionsA = [];
  for (let i = 0; i < 7; i++) sessionsA.push(await openSession(ctx, a.id));
  const sessionsB = [await openSession(ctx, b.id), await openSession(ctx, b.id)];
  const closed = sessionsA[0]!;
  assert.equal((await ctx.request('POST', `/api/v1/sessions/${closed.id}/close`)).status, 200);
  await addMessage(ctx, sessionsA[1]!, { text: 'first' });
  await addMessage(ctx, sessionsA[1]!, { text: 'second', direction: 'outgoing', senderType: 'operator' });
  return { operator, supervisor, lineA, lineB, a, b, sessionsA, sessionsB, closed };
}

const ids = (items: { id: string }[]) => items.map((i) => i.id);

describeEachDatabase('GET collection endpoints', (ctx) => {
  let w: World;
  const get = (url: string, token?: string) => ctx().request('GET', `/api/v1${url}`, { token });
  const search = (entity: string, body: unknown, token?: string) =>
    ctx().request('POST', `/api/v1/${entity}/search`, { body, token });

  before(async () => {
    w = await build(ctx());
  });

  it('answers GET /api/v1/lines (it was a 404) with the lines POST /lines/search finds', async () => {
    const listed = await get('/lines?limit=1000');
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    const searched = await search('lines', { size: 1000 });
    assert.deepEqual(ids(listed.body.items), ids(searched.body.items));
    assert.equal(listed.body.total, searched.body.total);
    assert.equal(listed.body.nextCursor, null);
    assert.ok(ids(listed.body.items).includes(w.lineA.id));
  });

  it('lists every searchable entity by GET with the same items and total as its search', async () => {
    for (const entity of [
      'lines',
      'channels',
      'clients',
      'contacts',
      'sessions',
      'messages',
      'users',
      'groups',
      'bots',
      'audit',
    ]) {
      const listed = await get(`/${entity}?limit=1000`);
      assert.equal(listed.status, 200, `${entity}: ${JSON.stringify(listed.body)}`);
      const searched = await search(entity, { size: 1000 });
      assert.equal(searched.status, 200, `${entity}: ${JSON.stringify(searched.body)}`);
      assert.deepEqual(listed.body.items, searched.body.items, entity);
      assert.equal(listed.body.total, searched.body.total, entity);
    }
  });

  it('filters sessions by state and line, as the search does', async () => {
    const listed = await get(`/sessions?state=Waiting&lineId=${w.lineA.id}`);
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    const searched = await search('sessions', {
      where: {
        and: [
          { field: 'state', op: 'eq', value: 'Waiting' },
          { field: 'lineId', op: 'eq', value: w.lineA.id },
        ],
      },
    });
    assert.deepEqual(ids(listed.body.items), ids(searched.body.items));
    assert.equal(listed.body.total, 6);
    assert.ok(
      listed.body.items.every(
        (s: { state: string; lineId: string }) => s.state === 'Waiting' && s.lineId === w.lineA.id,
      ),
    );
    const closed = await get(`/sessions?state=Closed&lineId=${w.lineA.id}`);
    assert.deepEqual(ids(closed.body.items), [w.closed.id]);
    const ofClient = await get(`/sessions?clientId=${w.sessionsB[0]!.clientIds[0]}`);
    assert.deepEqual(ids(ofClient.body.items), [w.sessionsB[0]!.id]);
  });

  it('filters channels, clients and messages by their simple fields', async () => {
    const channels = await get(`/channels?lineId=${w.lineB.id}&type=api&state=active`);
    assert.deepEqual(ids(channels.body.items), [w.b.id]);
    const clients = await get(`/clients?channelId=${w.b.id}`);
    assert.deepEqual(ids(clients.body.items).sort(), w.sessionsB.map((s) => s.clientIds[0]).sort());
    const outgoing = await get(`/messages?sessionId=${w.sessionsA[1]!.id}&direction=outgoing`);
    assert.deepEqual(
      outgoing.body.items.map((m: { text: string }) => m.text),
      ['second'],
    );
  });

  it('pages with limit and an opaque cursor: every match once, nextCursor null on the last page', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: {
        status: number;
        body: { items: { id: string }[]; total: number; nextCursor: string | null };
      } = await get(`/sessions?lineId=${w.lineA.id}&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.total, 7);
      assert.ok(res.body.items.length <= 3);
      seen.push(...ids(res.body.items));
      cursor = res.body.nextCursor;
      if (cursor) assert.match(cursor, /^[A-Za-z0-9_-]+$/);
      pages++;
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(seen.slice().sort(), ids(w.sessionsA).sort());
    const all = await search('sessions', { where: { field: 'lineId', op: 'eq', value: w.lineA.id } });
    assert.deepEqual(seen, ids(all.body.items), 'in the search’s order');
  });

  it('sorts by a field, `-field` descending', async () => {
    const asc = await get(`/sessions?lineId=${w.lineA.id}&sort=startedAt`);
    const desc = await get(`/sessions?lineId=${w.lineA.id}&sort=-startedAt`);
    assert.deepEqual(ids(asc.body.items), ids(desc.body.items).reverse());
  });

  it('shows deleted records only when asked (deleted=true)', async () => {
    const line = await createLine(ctx(), { name: unique('doomed') });
    assert.equal((await ctx().request('DELETE', `/api/v1/lines/${line.id}`)).status, 204);
    assert.ok(!ids((await get('/lines?limit=1000')).body.items).includes(line.id));
    assert.deepEqual(ids((await get(`/lines?deleted=true&name=${line.name}`)).body.items), [line.id]);
    assert.deepEqual(ids((await get(`/lines?deleted=false&name=${line.name}`)).body.items), []);
  });

  it("scopes an operator's lists exactly as their searches: only their lines' sessions and channels", async () => {
    const token = w.operator.token;
    for (const entity of ['sessions', 'channels', 'clients', 'lines', 'users', 'messages', 'contacts']) {
      const listed = await get(`/${entity}?limit=1000`, token);
      assert.equal(listed.status, 200, `${entity}: ${JSON.stringify(listed.body)}`);
      const searched = await search(entity, { size: 1000 }, token);
      assert.deepEqual(listed.body.items, searched.body.items, entity);
    }
    const sessions = await get('/sessions?limit=1000', token);
    // Line A's open sessions (a closed one not theirs is the admin's and supervisors' to see).
    assert.deepEqual(ids(sessions.body.items).sort(), ids(w.sessionsA.slice(1)).sort());
    const other = await get(`/sessions?lineId=${w.lineB.id}`, token);
    assert.deepEqual([other.status, other.body.total], [200, 0]);
    // What an operator may not search by, they may not filter by either.
    const byLogin = await get(`/users?login=${w.supervisor.login}`, token);
    assert.equal(byLogin.status, 400);
    assert.equal(byLogin.body.error.code, 'UNKNOWN_FIELD');
    assert.equal(byLogin.body.error.details.errors[0].path, 'querystring.login');
    // The audit log is the admin's, by GET as by search.
    assert.equal((await get('/audit', token)).status, 403);
    assert.equal((await get('/audit', w.supervisor.token)).status, 403);
    assert.equal((await get('/sessions', '')).status, 401);
  });

  it('refuses bad query parameters with a 400 naming the parameter', async () => {
    const cases: [string, string][] = [
      ['/sessions?state=Sleeping', 'querystring.state'],
      ['/sessions?lineId=abc', 'querystring.lineId'],
      ['/sessions?priority=Urgent', 'querystring.priority'],
      ['/sessions?limit=0', 'querystring.limit'],
      ['/sessions?limit=1001', 'querystring.limit'],
      ['/sessions?limit=ten', 'querystring.limit'],
      ['/sessions?colour=red', 'querystring.colour'],
      ['/sessions?cursor=abc', 'querystring.cursor'],
      ['/sessions?cursor=not%20a%20cursor', 'querystring.cursor'],
      ['/sessions?sort=colour', 'querystring.sort'],
      ['/sessions?sort=clientIds', 'querystring.sort'],
      ['/sessions?deleted=perhaps', 'querystring.deleted'],
      ['/channels?type=pigeon', 'querystring.type'],
      ['/clients?banned=maybe', 'querystring.banned'],
      [`/clients?username=${'x'.repeat(201)}`, 'querystring.username'],
      ['/lines?name=', 'querystring.name'],
      ['/messages?direction=sideways', 'querystring.direction'],
      ['/users?role=king', 'querystring.role'],
    ];
    for (const [url, path] of cases) {
      const res = await get(url);
      assert.equal(res.status, 400, `${url}: ${res.status} ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.details.errors[0].path, path, `${url}: ${JSON.stringify(res.body)}`);
    }
  });

  it('refuses a cursor with other filters or sort than the list it came from', async () => {
    const first = await get(`/sessions?lineId=${w.lineA.id}&limit=2`);
    const cursor = first.body.nextCursor as string;
    assert.ok(cursor);
    assert.equal(
      (await get(`/sessions?lineId=${w.lineA.id}&limit=5&cursor=${cursor}`)).status,
      200,
      'another limit is fine',
    );
    for (const url of [
      `/sessions?lineId=${w.lineB.id}&limit=2&cursor=${cursor}`,
      `/sessions?lineId=${w.lineA.id}&state=Waiting&limit=2&cursor=${cursor}`,
      `/sessions?lineId=${w.lineA.id}&sort=-startedAt&limit=2&cursor=${cursor}`,
      `/channels?lineId=${w.lineA.id}&limit=2&cursor=${cursor}&name=x`,
    ]) {
      const res = await get(url);
      assert.equal(res.status, 400, url);
      assert.equal(res.body.error.details.errors[0].path, 'querystring.cursor');
    }
  });

  it('documents a GET list beside every POST …/search in the OpenAPI document', async () => {
    const doc = (await ctx().request('GET', '/api/docs/json', { token: null })).body as {
      paths: Record<string, Record<string, { parameters?: { in: string; name: string }[] }>>;
    };
    const searches = Object.keys(doc.paths).filter((p) => p.endsWith('/search') && doc.paths[p]!.post);
    assert.ok(searches.length >= 10, searches.join(', '));
    for (const path of searches) {
      const list = doc.paths[path.replace(/\/search$/, '')]?.get;
      assert.ok(list, `no GET beside POST ${path}`);
    }
    const params = doc.paths['/api/v1/sessions']!.get!.parameters!.filter((p) => p.in === 'query').map(
      (p) => p.name,
    );
    for (const name of ['state', 'lineId', 'channelId', 'clientId', 'limit', 'cursor', 'sort', 'deleted']) {
      assert.ok(params.includes(name), `GET /api/v1/sessions documents ${name}: ${params.join(', ')}`);
    }
  });
});
