/**
 * bench:email — 2,000 mails appended to a real Dovecot folder while an inbox channel reads it: how fast
 * they are stored (each exactly once) and whether the process memory stays flat.
 * Database: PostgreSQL at DATABASE_URL when set (a scratch database), else PGlite.
 * Target: all stored within the run at >= 200 msg/s, RSS flat within 10 %. Writes bench/results/email.json.
 */
import { fork } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { sql } from 'drizzle-orm';
import { queryRows } from '../src/db/client.ts';
import { startTestApp } from '../test/helpers/app.ts';
import { dovecotMissing, startDovecot } from '../test/helpers/dovecot.ts';
import { createLine } from '../test/helpers/factories.ts';
import { inboxSettings } from '../test/helpers/inbox.ts';
import { SmtpSink } from '../test/helpers/smtp-sink.ts';
import { RssSampler } from './lib/cpu.ts';
import { formatTable, hostInfo, writeJson } from './lib/report.ts';

const TOTAL = Number(process.env.BENCH_EMAILS ?? 2000);
const APPEND_CONNECTIONS = Number(process.env.BENCH_APPEND_CONNECTIONS ?? 4);

async function main() {
  const missing = dovecotMissing();
  if (missing) {
    console.log(`bench:email skipped: ${missing}`);
    return;
  }
  const dovecot = await startDovecot();
  const smtp = await SmtpSink.start();
  const kind = process.env.DATABASE_URL ? 'postgres' : 'pglite';
  const ctx = await startTestApp(kind, { background: true });
  try {
    const user = 'bench@help.test';
    await dovecot.addUser(user, 'bench-pw');
    const line = await createLine(ctx);
    const res = await ctx.request('POST', '/api/v1/channels', {
      body: {
        lineId: line.id,
        name: 'bench mail',
        type: 'inbox',
        settings: inboxSettings(dovecot, smtp, user, 'bench-pw'),
      },
    });
    if (res.status !== 201) throw new Error(`channel: ${JSON.stringify(res.body)}`);
    const channelId = res.body.id as string;
    const emlFiles = async () =>
      (
        await queryRows<{ n: number }>(
          ctx.db,
          sql`SELECT count(*)::int AS n FROM files f JOIN sessions s ON s.id = f.session_id
              WHERE s.channel_id = ${channelId} AND f.name = 'message.eml'`,
        )
      )[0]!.n;
    const count = async () =>
      (
        await queryRows<{ n: number; d: number }>(
          ctx.db,
          sql`SELECT count(*)::int AS n, count(DISTINCT external_id)::int AS d FROM messages WHERE channel_id = ${channelId}`,
        )
      )[0]!;

    // The mail comes from another process (4 IMAP sessions), as from outside: its CPU is not ours.
    const appender = fork(new URL('./lib/email-append.ts', import.meta.url).pathname, {
      execArgv: ['--import', 'tsx'],
      env: {
        ...process.env,
        BENCH_APPEND: JSON.stringify({
          host: dovecot.host,
          port: dovecot.port,
          user,
          password: 'bench-pw',
          total: TOTAL,
          connections: APPEND_CONNECTIONS,
        }),
      },
    });
    const said = (key: 'ready' | 'done') =>
      new Promise<void>((resolve, reject) => {
        appender.on('message', (m: Record<string, unknown>) => m[key] && resolve());
        appender.once('exit', (code) => code && reject(new Error(`the appender exited with ${code}`)));
      });
    await said('ready');
    const sampler = new RssSampler().start(250);
    const started = performance.now();
    let appendedAt = 0;
    const appending = said('done').then(() => {
      appendedAt = performance.now();
    });
    appender.send('go');
    let last = { n: 0, d: 0 };
    const deadline = started + 10 * 60_000;
    while (last.n < TOTAL && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      last = await count();
    }
    const storedAt = performance.now();
    // The originals (.eml) are put in the file store after the message rows, by the attachment jobs.
    let files = await emlFiles();
    while (files < last.n && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      files = await emlFiles();
    }
    const filedAt = performance.now();
    await appending;
    await new Promise((r) => setTimeout(r, 2000));
    last = await count();
    sampler.stop();
    const rss = sampler.samples.map((x) => x.mb);
    const seconds = (storedAt - started) / 1000;
    const rate = last.n / seconds;
    // Flat: the peak of the last quarter of the run against the peak of its second quarter (warmed up).
    const q = Math.floor(rss.length / 4);
    const peak = (a: number[]) => Math.max(...a);
    const early = peak(rss.slice(q, 2 * q));
    const late = peak(rss.slice(3 * q));
    const growth = (late - early) / early;
    const result = {
      database: kind,
      total: TOTAL,
      stored: last.n,
      distinctMessageIds: last.d,
      exactlyOnce: last.n === TOTAL && last.d === TOTAL,
      appendSeconds: appendedAt ? (appendedAt - started) / 1000 : null,
      storeSeconds: seconds,
      messagesPerSecond: Math.round(rate),
      emlFilesStored: files,
      emlStoredSeconds: (filedAt - started) / 1000,
      emlPerSecond: Math.round(files / ((filedAt - started) / 1000)),
      appendConnections: APPEND_CONNECTIONS,
      loadAverage: loadavg().map((x) => Number(x.toFixed(2))),
      target: { messagesPerSecond: 200, rssGrowthMax: 0.1 },
      rssMb: { secondQuarterPeak: Math.round(early), lastQuarterPeak: Math.round(late) },
      rssGrowth: Number(growth.toFixed(3)),
      met: last.n === TOTAL && last.d === TOTAL && rate >= 200 && growth <= 0.1,
      host: hostInfo(),
      at: new Date().toISOString(),
    };
    console.log(
      formatTable(
        ['db', 'stored', 'distinct', 'seconds', 'msg/s', '.eml s', 'rss growth', 'load', 'met'],
        [
          [
            kind,
            last.n,
            last.d,
            seconds.toFixed(1),
            Math.round(rate),
            ((filedAt - started) / 1000).toFixed(1),
            `${(growth * 100).toFixed(1)} %`,
            loadavg()[0]!.toFixed(2),
            String(result.met),
          ],
        ],
      ),
    );
    // One file for both databases: this run replaces the previous run on the same database.
    const file = new URL('./results/email.json', import.meta.url).pathname;
    const previous = existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>)
      : {};
    const runs = typeof previous.runs === 'object' && previous.runs ? previous.runs : {};
    writeJson(file, { benchmark: 'email', issue: 16, runs: { ...runs, [kind]: result } });
  } finally {
    await ctx.close();
    await smtp.close();
    await dovecot.stop();
  }
}

await main();
