/**
 * The CPU a session costs, round after round, on PostgreSQL (companion to bench/routing.ts).
 *
 * The routing benchmark runs the machine near saturation, where latency swings by seconds from run to
 * run. This one runs a closed loop (a fixed number of callers, no schedule), so its figure is the
 * work itself: node and PostgreSQL CPU per session, for
 *
 *   open+route  `sessions.create(channel, account, admin)` with a new account, and the router giving
 *               it to one of 100 online operators (capacity high enough for everyone); the phase ends
 *               when every session of the round is assigned;
 *   close       `sessions.apply(id, close by system)` of each of them.
 *
 * The rounds run one after another on the same tables, which keep growing. Flat figures mean no
 * statement's cost grows with the data; a rising one points at a statement that reads more rows
 * as the tables grow (a bad cached plan, a missing index).
 *
 *   npm run bench:session-cost        (npx tsx bench/session-cost.ts)
 *
 * Options: --rounds 4 --sessions 2000 (per round) --callers 16 --pool 10 --out <file>.
 * Results: bench/results/session-cost.json. The scratch database `omniline_cost_<random>` on the server
 * of DATABASE_URL is dropped at the end, also on failure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { openDatabase } from '../src/db/client.ts';
import { migrate } from '../src/db/migrate.ts';
import type { Caller } from '../src/domain/user/user.ts';
import { SecretBox } from '../src/lib/secret-box.ts';
import { createPlatform, type Platform } from '../src/platform.ts';
import { stubProviders } from '../test/fakes/stub-providers.ts';
import { type CpuUse, cpuMeter } from './lib/cpu.ts';
import { createScratchDatabase } from './lib/db.ts';
import { closedLoop, type LoadResult } from './lib/load.ts';
import { formatTable, machineInfo, writeJson } from './lib/report.ts';

const OPERATORS = 100;
const SYSTEM = { type: 'system', id: null } as const;
const log = (...args: unknown[]) => console.log(...args);

interface Config {
  rounds: number;
  sessions: number;
  callers: number;
  pool: number;
  out: string;
}

function parseConfig(argv: string[]): Config {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '4' },
      sessions: { type: 'string', default: '2000' },
      callers: { type: 'string', default: '16' },
      pool: { type: 'string', default: '10' },
      out: { type: 'string' },
    },
  });
  return {
    rounds: Number(values.rounds),
    sessions: Number(values.sessions),
    callers: Number(values.callers),
    pool: Number(values.pool),
    out: values.out ?? fileURLToPath(new URL('./results/session-cost.json', import.meta.url)),
  };
}

/** CPU per session of one phase, ms, and the rate the phase ran at. */
interface PhaseCost {
  nodeMs: number;
  postgresMs: number;
  perSecond: number;
}

function perSession(cpu: CpuUse, n: number): PhaseCost {
  const ms = (cores: number) => Math.round(((cores * cpu.seconds) / n) * 1e6) / 1e3;
  return {
    nodeMs: ms(cpu.server),
    postgresMs: ms(cpu.postgresBackends),
    perSecond: Math.round(n / cpu.seconds),
  };
}

/** A call that failed fails the run: its CPU figures would not be the product's. */
function failOn(result: LoadResult): void {
  const errors = Object.entries(result.errors);
  if (errors.length > 0) throw new Error(`calls failed: ${errors.map(([k, n]) => `${k}×${n}`).join(', ')}`);
}

async function setupWorld(platform: Platform) {
  const { users, lines, channels } = platform.services;
  const password = 'session-cost-bench-password';
  const admin = await users.create({ login: 'bench-admin', name: 'Bench admin', role: 'admin', password });
  const operators = await Promise.all(
    Array.from({ length: OPERATORS }, (_, i) =>
      users.create({ login: `operator-${i}`, name: `Operator ${i}`, role: 'operator', password }),
    ),
  );
  for (const o of operators) await platform.workspace.setStatus(o.id, 'online');
  const line = await lines.create({
    name: 'Bench line',
    operatorIds: operators.map((o) => o.id),
    queue: { routingRule: 'toAvailable', maxSessionsPerOperator: 1000 },
  });
  const channel = await channels.create({ lineId: line.id, name: 'Bench telegram', type: 'telegram' });
  const caller: Caller = { id: admin.id, login: admin.login, name: admin.name, role: 'admin', tokenId: 'x' };
  return { caller, channelId: channel.id };
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const cfg = parseConfig(argv);
  const scratch = await createScratchDatabase('omniline_cost');
  log(`scratch database ${scratch.name}`);
  const closers: (() => Promise<unknown>)[] = [];
  try {
    const database = await openDatabase({ url: scratch.url, dataDir: null, maxConnections: cfg.pool });
    closers.push(() => database.close());
    await migrate(database.db);
    const raw = postgres(scratch.url, { max: 1, onnotice: () => {} });
    closers.push(() => raw.end({ timeout: 5 }));
    const machine = await machineInfo(raw);
    log(`CPU probe ${machine.cpuProbeMs} ms (lib.ts cpuProbeMs: CPU figures scale with it)`);
    const filesDir = mkdtempSync(path.join(os.tmpdir(), 'omniline-cost-'));
    closers.push(async () => rmSync(filesDir, { recursive: true, force: true }));
    const platform = createPlatform({
      db: database.db,
      secrets: new SecretBox('omniline-session-cost-bench-secret-0123'),
      filesDir,
      // Telegram user-account channels have no provider yet: a stand-in keeps the bench's username accounts.
      plugins: [stubProviders(['telegram'])],
    });
    const { caller, channelId } = await setupWorld(platform);
    let assigned = 0;
    const unlisten = platform.services.deps.bus.on('session.transitioned', (e) => {
      if (e.payload.to === 'AssignedToOperator') assigned++;
    });
    closers.push(async () => unlisten());
    platform.start();
    closers.push(() => platform.stop());
    log(`${cfg.rounds} rounds of ${cfg.sessions} sessions, ${cfg.callers} callers, pool ${cfg.pool}`);

    const [own] = await raw<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
    const watch = { server: 'self' as const, database: scratch.name, loadgen: [own!.pid] };
    const rounds: { round: number; sessionsBefore: number; openRoute: PhaseCost; close: PhaseCost }[] = [];
    for (let round = 0; round < cfg.rounds; round++) {
      const ids: string[] = [];
      const target = assigned + cfg.sessions;
      const opening = cpuMeter(watch);
      const opened = await closedLoop({
        concurrency: cfg.callers,
        count: cfg.sessions,
        send: async (i) => {
          const { session } = await platform.services.sessions.create(channelId, `r${round}_${i}`, caller);
          ids.push(session.id);
        },
      });
      failOn(opened);
      while (assigned < target) await new Promise((resolve) => setTimeout(resolve, 5));
      const openRoute = perSession(opening(), cfg.sessions);
      const closing = cpuMeter(watch);
      failOn(
        await closedLoop({
          concurrency: cfg.callers,
          count: ids.length,
          send: (i) =>
            platform.services.sessions.apply(ids[i]!, { type: 'close', by: SYSTEM }, null, 'close'),
        }),
      );
      const close = perSession(closing(), cfg.sessions);
      rounds.push({ round, sessionsBefore: round * cfg.sessions, openRoute, close });
      log(
        `round ${round}: open+route node ${openRoute.nodeMs} + postgres ${openRoute.postgresMs} ms` +
          ` | close node ${close.nodeMs} + postgres ${close.postgresMs} ms`,
      );
    }

    const first = rounds[0]!;
    const last = rounds.at(-1)!;
    const total = (r: (typeof rounds)[number]) =>
      r.openRoute.nodeMs + r.openRoute.postgresMs + r.close.nodeMs + r.close.postgresMs;
    const growth = Math.round((total(last) / total(first)) * 100) / 100;
    log(
      `\n${formatTable(
        ['round', 'sessions before', 'open+route node', 'pg', 'per s', 'close node', 'pg', 'per s'],
        rounds.map((r) => [
          String(r.round),
          String(r.sessionsBefore),
          r.openRoute.nodeMs.toFixed(3),
          r.openRoute.postgresMs.toFixed(3),
          String(r.openRoute.perSecond),
          r.close.nodeMs.toFixed(3),
          r.close.postgresMs.toFixed(3),
          String(r.close.perSecond),
        ]),
      )}`,
    );
    log(`CPU per session, last round / first round: ${growth} (flat is 1)`);
    writeJson(cfg.out, {
      benchmark: 'session-cost',
      issue: 'Routing',
      machine,
      config: { ...cfg, out: undefined, operators: OPERATORS },
      rounds,
      cpuPerSessionMs: { first: total(first), last: total(last) },
      growth,
    });
    log(`results written to ${cfg.out}`);
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {});
    await scratch.drop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
