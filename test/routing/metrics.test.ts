/**
 * Line metrics: sessions, answer times and handling time built at exact moments (the test clock
 * for the session lifecycle through the API, explicit times for client messages and operator
 * answers through sessionRepository.touchOnMessage), then read through MetricsService and through
 * `GET /api/v1/lines/:id/metrics`.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { livechatRepository } from '../../src/domain/livechat/livechat.repository.ts';
import { sessionRepository } from '../../src/domain/session/session.repository.ts';
import type { Caller } from '../../src/domain/user/user.ts';
import type { AppError } from '../../src/errors.ts';
import { type LineMetrics, MetricsService } from '../../src/routing/metrics.service.ts';
import { describeEachDatabase, type TestContext } from '../helpers/app.ts';
import { createChannel, createLine, createUser, openSession, unique } from '../helpers/factories.ts';

const T0 = Date.parse('2024-03-01T09:00:00.000Z');
/** The moment `s` seconds after T0. */
const at = (s: number) => new Date(T0 + s * 1000);
const iso = (s: number) => at(s).toISOString();

describeEachDatabase('line metrics', (ctx) => {
  const service = () => new MetricsService(ctx().services.deps);
  const admin = (): Promise<Caller> => ctx().services.users.authenticate(ctx().adminToken);

  const ok = <T>(res: { status: number; body: T }, status = 200): T => {
    assert.equal(res.status, status, JSON.stringify(res.body));
    return res.body;
  };

  /** Opens a session (Waiting, by the admin) at second `s`. */
  const open = async (channelId: string, s: number) => {
    ctx().clock.set(at(s));
    return (await openSession(ctx(), channelId)).id;
  };
  const assign = async (id: string, operatorId: string, s: number) => {
    ctx().clock.set(at(s));
    ok(await ctx().request('POST', `/api/v1/sessions/${id}/assign`, { body: { operatorId } }));
  };
  const close = async (id: string, s: number) => {
    ctx().clock.set(at(s));
    ok(await ctx().request('POST', `/api/v1/sessions/${id}/close`));
  };
  const markSpam = async (id: string, s: number) => {
    ctx().clock.set(at(s));
    ok(await ctx().request('POST', `/api/v1/sessions/${id}/spam`));
  };
  const clientWrites = (id: string, s: number) =>
    sessionRepository.touchOnMessage(ctx().db, id, { direction: 'incoming', at: at(s), byOperator: false });
  const operatorAnswers = (id: string, operatorId: string, s: number) =>
    sessionRepository.touchOnMessage(ctx().db, id, {
      direction: 'outgoing',
      at: at(s),
      byOperator: true,
      operatorId,
    });

  const metrics = async (lineId: string, from: number, to: number, now: number): Promise<LineMetrics> => {
    ctx().clock.set(at(now));
    return service().line(lineId, { from: iso(from), to: iso(to) }, await admin());
  };

  /**
   * A line with two operators (Alice, Bob) and five sessions in the first hour after T0:
   *   S1 open 0, Alice 5, first answer 10 (10 s), client 60 → Alice 80 (20 s), client 100 → Alice 140
   *      (40 s), closed 300: handling 295 s
   *   S2 open 20, Bob 30, first answer 50 (30 s), client 200 → Bob 260 (60 s), closed 400: handling 370 s
   *   S3 open 40, Alice 45, first answer 90 (50 s), still with Alice
   *   S4 open 500, waiting
   *   S5 open 10, Bob 15, first answer 1010 (1000 s), marked as spam 1100
   * and one session an hour before, outside the range: S0 open −3600, Alice −3590, answer −3500, closed −3000.
   */
  async function knownLine(c: TestContext) {
    const alice = await createUser(c, 'operator', { name: `Alice ${unique('a')}` });
    const bob = await createUser(c, 'operator', { name: `Bob ${unique('b')}` });
    const supervisor = await createUser(c, 'supervisor');
    const line = await createLine(c, { operatorIds: [alice.id, bob.id, supervisor.id] });
    const channel = await createChannel(c, line.id, 'api');

    const s0 = await open(channel.id, -3600);
    await assign(s0, alice.id, -3590);
    await operatorAnswers(s0, alice.id, -3500);
    await close(s0, -3000);

    const s1 = await open(channel.id, 0);
    const s5 = await open(channel.id, 10);
    const s2 = await open(channel.id, 20);
    const s3 = await open(channel.id, 40);
    const s4 = await open(channel.id, 500);
    await assign(s1, alice.id, 5);
    await assign(s5, bob.id, 15);
    await assign(s2, bob.id, 30);
    await assign(s3, alice.id, 45);

    await operatorAnswers(s1, alice.id, 10);
    await clientWrites(s1, 60);
    await operatorAnswers(s1, alice.id, 80);
    await clientWrites(s1, 100);
    await clientWrites(s1, 120); // a second client message does not restart the wait
    await operatorAnswers(s1, alice.id, 140);
    await close(s1, 300);

    await operatorAnswers(s2, bob.id, 50);
    await clientWrites(s2, 200);
    await operatorAnswers(s2, bob.id, 260);
    await close(s2, 400);

    await operatorAnswers(s3, alice.id, 90);

    await operatorAnswers(s5, bob.id, 1010);
    await markSpam(s5, 1100);

    return { line, channel, alice, bob, supervisor, sessions: { s0, s1, s2, s3, s4, s5 } };
  }

  it('computes session counts, average and p90 answer times, handling time and the queue of a known data set', async () => {
    const { line } = await knownLine(ctx());
    const m = await metrics(line.id, 0, 3600, 2000);
    assert.equal(m.lineId, line.id);
    assert.equal(m.from, iso(0));
    assert.equal(m.to, iso(3600));
    assert.equal(m.now, iso(2000));
    assert.deepEqual(m.sessions, {
      byState: { Waiting: 1, AssignedToBot: 0, AssignedToOperator: 1, Closed: 2, MarkedAsSpam: 1 },
      new: 4,
      closed: 2,
      spam: 1,
    });
    // first answers 10, 30, 50: p90 = 30 + 0.8 × (50 − 30)
    assert.deepEqual(m.firstAnswer, { count: 3, avgSeconds: 30, p90Seconds: 46 });
    // next answers 20, 40, 60: p90 = 40 + 0.8 × (60 − 40)
    assert.deepEqual(m.nextAnswer, { count: 3, avgSeconds: 40, p90Seconds: 56 });
    // handling from the first assignment to the close: 295 and 370
    assert.deepEqual(m.handling, { count: 2, avgSeconds: 332.5 });
    // S4 queued at 500, read at 2000
    assert.deepEqual(m.queue, { length: 1, longestWaitSeconds: 1500 });
  });

  it('gives one row per active operator: distinct sessions handled and their own answer and handling times', async () => {
    const { line, alice, bob } = await knownLine(ctx());
    const m = await metrics(line.id, 0, 3600, 2000);
    assert.deepEqual(
      m.operators.map(({ name: _name, ...row }) => row),
      [
        {
          operatorId: alice.id,
          sessionsHandled: 2, // S1 answered and closed, S3 answered
          firstAnswer: { count: 2, avgSeconds: 30 }, // 10, 50
          nextAnswer: { count: 2, avgSeconds: 30 }, // 20, 40
          handling: { count: 1, avgSeconds: 295 },
        },
        {
          operatorId: bob.id,
          sessionsHandled: 1, // S2; S5 is spam
          firstAnswer: { count: 1, avgSeconds: 30 },
          nextAnswer: { count: 1, avgSeconds: 60 },
          handling: { count: 1, avgSeconds: 370 },
        },
      ],
    );
    assert.match(m.operators[0]?.name ?? '', /^Alice /);
    assert.match(m.operators[1]?.name ?? '', /^Bob /);
  });

  it("excludes a spam session's counts and answers, and counts them again once it is taken out of spam", async () => {
    const { line, bob, sessions } = await knownLine(ctx());
    const unmarked = ok(await ctx().request('DELETE', `/api/v1/sessions/${sessions.s5}/spam`));
    assert.equal((unmarked as { state: string }).state, 'Closed');

    const m = await metrics(line.id, 0, 3600, 2000);
    assert.deepEqual(m.sessions, {
      byState: { Waiting: 1, AssignedToBot: 0, AssignedToOperator: 1, Closed: 3, MarkedAsSpam: 0 },
      new: 5,
      closed: 3,
      spam: 0,
    });
    // first answers 10, 30, 50, 1000: p90 = 50 + 0.7 × (1000 − 50)
    assert.deepEqual(m.firstAnswer, { count: 4, avgSeconds: 272.5, p90Seconds: 715 });
    assert.deepEqual(m.nextAnswer, { count: 3, avgSeconds: 40, p90Seconds: 56 });
    // S5 closed when marked (1100), first assigned at 15: 1085 s
    assert.deepEqual(m.handling, { count: 3, avgSeconds: 583.333 });
    const bobRow = m.operators.find((o) => o.operatorId === bob.id);
    assert.deepEqual(bobRow && { ...bobRow, name: null }, {
      operatorId: bob.id,
      name: null,
      sessionsHandled: 2,
      firstAnswer: { count: 2, avgSeconds: 515 },
      nextAnswer: { count: 1, avgSeconds: 60 },
      handling: { count: 2, avgSeconds: 727.5 },
    });

    await markSpam(sessions.s5, 3000);
    const again = await metrics(line.id, 0, 3600, 2000);
    assert.equal(again.sessions.spam, 1);
    assert.equal(again.sessions.closed, 2);
    assert.deepEqual(again.firstAnswer, { count: 3, avgSeconds: 30, p90Seconds: 46 });
  });

  it('counts only what falls in [from, to): started_at, answered_at and closed_at at the boundaries', async () => {
    const operator = await createUser(ctx(), 'operator');
    const line = await createLine(ctx(), { operatorIds: [operator.id] });
    const channel = await createChannel(ctx(), line.id, 'api');
    // A: started before the range, answered exactly at `from` (counts), closed exactly at `to` (does not).
    const a = await open(channel.id, -100);
    await assign(a, operator.id, -90);
    await operatorAnswers(a, operator.id, 0);
    await close(a, 1000);
    // B: started exactly at `from` (counts), answered exactly at `to` (does not).
    const b = await open(channel.id, 0);
    await assign(b, operator.id, 10);
    await operatorAnswers(b, operator.id, 1000);
    // C: wholly inside: answered after 20 s, closed at 999 (handling 489 s).
    const c = await open(channel.id, 500);
    await assign(c, operator.id, 510);
    await operatorAnswers(c, operator.id, 520);
    await close(c, 999);
    // D: started exactly at `to` (does not count).
    await open(channel.id, 1000);

    const m = await metrics(line.id, 0, 1000, 5000);
    assert.deepEqual(m.sessions, {
      byState: { Waiting: 0, AssignedToBot: 0, AssignedToOperator: 1, Closed: 1, MarkedAsSpam: 0 },
      new: 2,
      closed: 1,
      spam: 0,
    });
    assert.deepEqual(m.firstAnswer, { count: 2, avgSeconds: 60, p90Seconds: 92 }); // A 100 s, C 20 s
    assert.deepEqual(m.handling, { count: 1, avgSeconds: 489 });
    assert.equal(m.operators[0]?.sessionsHandled, 2, 'A answered in range, C answered and closed');

    const wide = await metrics(line.id, -1000, 2000, 5000);
    assert.equal(wide.sessions.new, 4);
    assert.equal(wide.sessions.closed, 2);
    assert.equal(wide.firstAnswer.count, 3);
    assert.deepEqual(wide.handling, { count: 2, avgSeconds: 789.5 }); // A 1090, C 489
  });

  it('reports the queue as it is now by the clock, whatever the range', async () => {
    const operator = await createUser(ctx(), 'operator');
    const line = await createLine(ctx(), { operatorIds: [operator.id] });
    const channel = await createChannel(ctx(), line.id, 'api');
    assert.deepEqual((await metrics(line.id, 0, 60, 0)).queue, { length: 0, longestWaitSeconds: null });

    await open(channel.id, 0);
    const taken = await open(channel.id, 10);
    await open(channel.id, 30);
    await assign(taken, operator.id, 20);

    const m = await metrics(line.id, -10_000, -5000, 100);
    assert.deepEqual(m.queue, { length: 2, longestWaitSeconds: 100 });
    assert.equal(m.sessions.new, 0, 'the sessions are outside the range');
    assert.deepEqual((await metrics(line.id, -10_000, -5000, 100.5)).queue, {
      length: 2,
      longestWaitSeconds: 100.5,
    });
  });

  it('answers null averages and empty rows for a line without activity', async () => {
    const line = await createLine(ctx());
    const m = await metrics(line.id, 0, 3600, 3600);
    assert.deepEqual(m.firstAnswer, { count: 0, avgSeconds: null, p90Seconds: null });
    assert.deepEqual(m.nextAnswer, { count: 0, avgSeconds: null, p90Seconds: null });
    assert.deepEqual(m.handling, { count: 0, avgSeconds: null });
    assert.deepEqual(m.operators, []);
    assert.equal(m.sessions.new, 0);
    assert.deepEqual(m.csat, {
      count: 0,
      average: null,
      byRating: { '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 },
    });
  });

  it('counts the satisfaction ratings given in [from, to), spam and deleted sessions left out', async () => {
    const line = await createLine(ctx());
    const channel = await createChannel(ctx(), line.id, 'api');
    const rate = async (rating: number, s: number) => {
      const id = await open(channel.id, s - 10);
      await close(id, s - 5);
      assert.ok(
        await livechatRepository.rate(ctx().db, {
          sessionId: id,
          lineId: line.id,
          rating,
          comment: null,
          at: at(s),
        }),
      );
      return id;
    };
    await rate(5, 100);
    await rate(5, 200);
    await rate(2, 300);
    await rate(4, 3600); // the end of the range is exclusive
    await rate(1, 50).then((id) => markSpam(id, 60));
    const m = await metrics(line.id, 0, 3600, 4000);
    assert.deepEqual(m.csat, { count: 3, average: 4, byRating: { '1': 0, '2': 1, '3': 0, '4': 0, '5': 2 } });
    const http = ok(
      await ctx().request('GET', `/api/v1/lines/${line.id}/metrics?from=${iso(0)}&to=${iso(3601)}`),
    );
    assert.deepEqual((http as LineMetrics).csat, {
      count: 4,
      average: 4,
      byRating: { '1': 0, '2': 1, '3': 0, '4': 1, '5': 2 },
    });
  });

  it('defaults the range to the 24 hours before now and refuses an empty, reversed or over-366-day range', async () => {
    const line = await createLine(ctx());
    const caller = await admin();
    ctx().clock.set(at(0));
    const m = await service().line(line.id, {}, caller);
    assert.equal(m.to, iso(0));
    assert.equal(m.from, iso(-24 * 3600));
    const fromOnly = await service().line(line.id, { from: iso(-60) }, caller);
    assert.deepEqual([fromOnly.from, fromOnly.to], [iso(-60), iso(0)]);
    const toOnly = await service().line(line.id, { to: iso(-3600) }, caller);
    assert.deepEqual([toOnly.from, toOnly.to], [iso(-3600 - 24 * 3600), iso(-3600)]);

    const refused = async (query: { from?: string; to?: string }, path: string) => {
      await assert.rejects(service().line(line.id, query, caller), (err: AppError) => {
        assert.equal(err.status, 400);
        assert.deepEqual((err.details as { errors: { path: string }[] }).errors[0]?.path, path);
        return true;
      });
    };
    await refused({ from: iso(10), to: iso(10) }, 'querystring.from');
    await refused({ from: iso(20), to: iso(10) }, 'querystring.from');
    await refused({ from: iso(60) }, 'querystring.from'); // after now, the default `to`
    await refused({ from: iso(-367 * 86400), to: iso(0) }, 'querystring.from');
    await service().line(line.id, { from: iso(-366 * 86400), to: iso(0) }, caller);
  });

  // Through the HTTP route (GET /api/v1/lines/:id/metrics, registered in app.ts).

  it('serves the same metrics over HTTP, documented by its response schema', async () => {
    const { line } = await knownLine(ctx());
    ctx().clock.set(at(2000));
    const res = await ctx().request('GET', `/api/v1/lines/${line.id}/metrics?from=${iso(0)}&to=${iso(3600)}`);
    assert.deepEqual(ok(res), await metrics(line.id, 0, 3600, 2000));
    const spec = ok(await ctx().request('GET', '/api/docs/json')) as {
      paths: Record<string, { get?: { responses?: Record<string, unknown> } }>;
    };
    assert.ok(spec.paths['/api/v1/lines/{id}/metrics']?.get?.responses?.['200']);
  });

  it('lets admins read any line and supervisors only their lines (404 otherwise); operators get 403', async () => {
    const operator = await createUser(ctx(), 'operator');
    const supervisor = await createUser(ctx(), 'supervisor');
    const outsider = await createUser(ctx(), 'supervisor');
    const line = await createLine(ctx(), { operatorIds: [operator.id, supervisor.id] });
    const url = `/api/v1/lines/${line.id}/metrics`;
    ctx().clock.set(at(0));

    assert.equal((await ctx().request('GET', url)).status, 200);
    assert.equal((await ctx().request('GET', url, { token: supervisor.token })).status, 200);
    const foreign = await ctx().request('GET', url, { token: outsider.token });
    assert.equal(foreign.status, 404);
    assert.equal(foreign.body.error.code, 'LINE_NOT_FOUND');
    const denied = await ctx().request('GET', url, { token: operator.token });
    assert.equal(denied.status, 403);
    assert.equal((await ctx().request('GET', url, { token: null })).status, 401);
    const missing = await ctx().request('GET', '/api/v1/lines/00000000-0000-4000-8000-000000000000/metrics');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'LINE_NOT_FOUND');
  });

  it('rejects bad ranges with 400 naming querystring.from or querystring.to', async () => {
    const line = await createLine(ctx());
    ctx().clock.set(at(3600));
    const get = (query: string) => ctx().request('GET', `/api/v1/lines/${line.id}/metrics?${query}`);
    const pathOf = (res: { body: { error: { details: { errors: { path: string }[] } } } }) =>
      res.body.error.details.errors[0]?.path;

    const badTo = await get('to=yesterday');
    assert.equal(badTo.status, 400);
    assert.equal(pathOf(badTo), 'querystring.to');
    const badFrom = await get('from=2024-13-01T00:00:00Z');
    assert.equal(badFrom.status, 400);
    assert.equal(pathOf(badFrom), 'querystring.from');
    const reversed = await get(`from=${iso(10)}&to=${iso(0)}`);
    assert.equal(reversed.status, 400);
    assert.equal(pathOf(reversed), 'querystring.from');
    assert.match(reversed.body.error.message, /^querystring\.from: /);
    const empty = await get(`from=${iso(0)}&to=${iso(0)}`);
    assert.equal(empty.status, 400);
    assert.equal(pathOf(empty), 'querystring.from');
    const tooLong = await get(`from=${iso(-367 * 86400)}&to=${iso(0)}`);
    assert.equal(tooLong.status, 400);
    assert.equal(pathOf(tooLong), 'querystring.from');
    const unknown = await get('since=2024-01-01T00:00:00Z');
    assert.equal(unknown.status, 400);
    assert.equal(pathOf(unknown), 'querystring.since');

    const fine = await get(`from=${encodeURIComponent('2024-03-01T10:00:00+01:00')}`);
    assert.equal(fine.status, 200, JSON.stringify(fine.body));
    assert.equal(fine.body.from, iso(0));
  });
});
