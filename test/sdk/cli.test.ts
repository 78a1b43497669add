/**
 * The `omniline` command as people run it: a child process of sdk/bin/omniline.mjs against a real
 * server over HTTP, with its own config dir (XDG_CONFIG_HOME) and no inherited OMNILINE_* variables.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stubProviders } from '../fakes/stub-providers.ts';
import { ADMIN_PASSWORD, describeEachDatabase } from '../helpers/app.ts';
import { createChannel, createLine, openSession, unique } from '../helpers/factories.ts';

const BIN = fileURLToPath(new URL('../../sdk/bin/omniline.mjs', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `omniline …args` to its exit. `env` is all the child sees of OMNILINE_* and its config dir. */
function omniline(args: string[], env: Record<string, string>, input = ''): Promise<Run> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('OMNILINE_') && k !== 'XDG_CONFIG_HOME'),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...base, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

describeEachDatabase(
  'the omniline CLI, as a child process',
  (ctx) => {
    let dir: string;
    let env: Record<string, string>;
    const w = {} as {
      line: { id: string; name: string };
      api: { id: string };
      livechat: { id: string };
      waiting: { id: string };
      closed: { id: string };
    };

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'omniline-cli-'));
      env = { OMNILINE_URL: ctx().url!, OMNILINE_TOKEN: ctx().adminToken, XDG_CONFIG_HOME: dir, HOME: dir };
      w.line = await createLine(ctx(), { name: unique('cli line') });
      w.api = await createChannel(ctx(), w.line.id, 'api', { name: unique('cli api') });
      w.livechat = await createChannel(ctx(), w.line.id, 'livechat', { name: unique('cli livechat') });
      w.waiting = await openSession(ctx(), w.api.id);
      w.closed = await openSession(ctx(), w.api.id);
      assert.equal((await ctx().request('POST', `/api/v1/sessions/${w.closed.id}/close`)).status, 200);
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('logs in, storing the token in the config dir with mode 0600, and later commands use it', async () => {
      const home = await mkdtemp(path.join(dir, 'login-'));
      const only = { XDG_CONFIG_HOME: home, HOME: home };
      const res = await omniline(['login', '--url', ctx().url!, '--login', 'admin'], {
        ...only,
        OMNILINE_PASSWORD: ADMIN_PASSWORD,
      });
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, /logged in to .* as admin \(admin\)/);
      const file = path.join(home, 'omniline', 'credentials.json');
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.equal((await stat(path.dirname(file))).mode & 0o077, 0, 'the dir is its owner’s only');
      const stored = JSON.parse(await readFile(file, 'utf8'));
      assert.equal(stored.url, ctx().url);
      const me = await ctx().request('GET', '/api/v1/me', { token: stored.token });
      assert.equal(me.status, 200, 'the stored token is a working one');
      // No OMNILINE_URL/TOKEN: the stored ones are used.
      const listed = await omniline(['lines', 'list', '--json'], only);
      assert.equal(listed.code, 0, listed.stderr);
      assert.ok(JSON.parse(listed.stdout).some((l: { id: string }) => l.id === w.line.id));
    });

    it('refuses a wrong password with the server’s code, exits 1 and stores nothing', async () => {
      const home = await mkdtemp(path.join(dir, 'wrong-'));
      const res = await omniline(
        ['login', '--url', ctx().url!, '--login', 'admin'],
        {
          XDG_CONFIG_HOME: home,
          HOME: home,
        },
        'not-the-password\n',
      );
      assert.equal(res.code, 1);
      assert.match(res.stderr, /INVALID_CREDENTIALS \(401\)/);
      await assert.rejects(stat(path.join(home, 'omniline', 'credentials.json')));
    });

    it('says how to log in when there is no token, exiting 2', async () => {
      const home = await mkdtemp(path.join(dir, 'none-'));
      const res = await omniline(['sessions', 'list'], { XDG_CONFIG_HOME: home, HOME: home });
      assert.equal(res.code, 2);
      assert.match(res.stderr, /not logged in: run `omniline login`/);
    });

    it('lists lines and channels as a table for people and as JSON for machines', async () => {
      const table = await omniline(['lines', 'list'], env);
      assert.equal(table.code, 0, table.stderr);
      const [header, rule, ...rows] = table.stdout.trimEnd().split('\n');
      assert.match(header!, /^id\s+name\s+createdAt$/);
      assert.match(rule!, /^-+\s+-+\s+-+$/);
      assert.ok(
        rows.some((r) => r.startsWith(w.line.id) && r.includes(w.line.name)),
        table.stdout,
      );

      const channels = await omniline(['channels', 'list', '--json'], env);
      assert.equal(channels.code, 0, channels.stderr);
      const items = JSON.parse(channels.stdout) as { id: string; type: string; state: string }[];
      const api = items.find((c) => c.id === w.api.id);
      assert.deepEqual([api?.type, api?.state], ['api', 'active']);
      const channelTable = await omniline(['channels', 'list'], env);
      assert.match(channelTable.stdout.split('\n')[0]!, /^id\s+name\s+type\s+state\s+lineId$/);
      assert.match(channelTable.stdout, new RegExp(`${w.livechat.id}\\s+.+\\s+livechat\\s+active`));
    });

    it('lists sessions, and searches them with a filter in the REST language', async () => {
      const listed = await omniline(['sessions', 'list', '--json', '--limit', '1000'], env);
      assert.equal(listed.code, 0, listed.stderr);
      const ids = (JSON.parse(listed.stdout) as { id: string }[]).map((s) => s.id);
      assert.ok(ids.includes(w.waiting.id) && ids.includes(w.closed.id));

      const where = JSON.stringify({
        and: [
          { field: 'channelId', op: 'eq', value: w.api.id },
          { field: 'state', op: 'neq', value: 'Closed' },
        ],
      });
      const found = await omniline(['sessions', 'search', where, '--json'], env);
      assert.equal(found.code, 0, found.stderr);
      assert.deepEqual(
        (JSON.parse(found.stdout) as { id: string }[]).map((s) => s.id),
        [w.waiting.id],
      );
      const table = await omniline(['sessions', 'search', where], env);
      assert.match(
        table.stdout.split('\n')[0]!,
        /^id\s+state\s+priority\s+channelId\s+operatorId\s+startedAt$/,
      );
      assert.match(table.stdout, new RegExp(`${w.waiting.id}\\s+Waiting\\s+Medium`));

      const bad = await omniline(['sessions', 'search', '{"field":"colour","op":"eq","value":"red"}'], env);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /UNKNOWN_FIELD \(400\): .*colour/);
      const notJson = await omniline(['sessions', 'search', '{state'], env);
      assert.equal(notJson.code, 2);
      assert.match(notJson.stderr, /the filter is not JSON/);
    });

    it('disconnects and reconnects a channel by id', async () => {
      const off = await omniline(['channels', 'disconnect', w.livechat.id, '--json'], env);
      assert.equal(off.code, 0, off.stderr);
      assert.equal(JSON.parse(off.stdout)[0].state, 'disconnected');
      assert.equal(
        (await ctx().request('GET', `/api/v1/channels/${w.livechat.id}`)).body.state,
        'disconnected',
      );
      const on = await omniline(['channels', 'reconnect', w.livechat.id], env);
      assert.equal(on.code, 0, on.stderr);
      assert.match(on.stdout, new RegExp(`${w.livechat.id}.*livechat\\s+active`));
      assert.equal((await ctx().request('GET', `/api/v1/channels/${w.livechat.id}`)).body.state, 'active');
    });

    it("prints the server's code and message of a refused command and exits non-zero", async () => {
      assert.equal((await ctx().request('POST', `/api/v1/channels/${w.api.id}/disconnect`)).status, 200);
      const res = await omniline(['channels', 'reconnect', w.api.id], env);
      assert.equal(res.code, 1);
      assert.match(res.stderr, /^omniline: CHANNEL_RECONNECT_NOT_SUPPORTED \(409\): \S/m);
      assert.equal(res.stdout, '');
      const missing = randomUUID();
      const gone = await omniline(['channels', 'disconnect', missing], env);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, new RegExp(`CHANNEL_NOT_FOUND \\(404\\): .*${missing}`));
    });

    it('runs a script with System, Context (values and refs) and the enums in scope', async () => {
      const file = path.join(dir, 'script.ts');
      await writeFile(
        file,
        [
          'const session = await System.lines.sessions.search()',
          '  .where((f, g) => g.and(f.__id.eq(Context.data.sessionId!), f._state.neq(LineSessionState.Closed)))',
          '  .first();',
          'const channel = await Context.data.channel.fetch();',
          'console.log(JSON.stringify({ session: session.id, state: session.data._state, channel: channel.data.__name, n: Number(Context.data.n) + 1 }));',
          '',
        ].join('\n'),
      );
      const res = await omniline(
        [
          'script',
          file,
          '--context',
          `sessionId=${w.waiting.id}`,
          '--context',
          `channel=channel:${w.api.id}`,
          '--context',
          'n=41',
        ],
        env,
      );
      assert.equal(res.code, 0, res.stderr);
      const channel = (await ctx().request('GET', `/api/v1/channels/${w.api.id}`)).body;
      assert.deepEqual(JSON.parse(res.stdout), {
        session: w.waiting.id,
        state: 'Waiting',
        channel: channel.name,
        n: 42,
      });
    });

    it("exits non-zero with the server's code when a script's call is refused and nothing catches it", async () => {
      const file = path.join(dir, 'failing.ts');
      await writeFile(
        file,
        "console.log('before');\nawait System.lines.sessions.fetch(Context.data.sessionId!);\nconsole.log('after');\n",
      );
      const missing = randomUUID();
      const res = await omniline(['script', file, '--context', `sessionId=${missing}`], env);
      assert.equal(res.code, 1);
      assert.equal(res.stdout, 'before\n');
      assert.match(
        res.stderr,
        new RegExp(`^omniline: SESSION_NOT_FOUND \\(404\\): Session ${missing} not found`, 'm'),
      );
      // `first()` with no match is a NO_MATCH error too, not an undefined.
      await writeFile(
        file,
        "await System.lines.lines.search().where((f, g) => g.and(f.__name.eq('no such line'))).first();\n",
      );
      const none = await omniline(['script', file], env);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /NO_MATCH \(404\)/);
      const unset = await omniline(['script', path.join(dir, 'script.ts')], env);
      assert.equal(unset.code, 1);
      assert.match(unset.stderr, /Context\.data\.sessionId is not set: pass --context sessionId=/);
    });
  },
  { listen: true, plugins: [stubProviders(['livechat'])] },
);
