/**
 * `omniline` — the script runner and a few admin commands on the SDK:
 *
 *   omniline script FILE.ts [--context key=value …]
 *   omniline login [--url URL] [--login LOGIN] [--password P | OMNILINE_PASSWORD | stdin] [--token T]
 *   omniline lines|channels|sessions list [--limit N] [--json]
 *   omniline sessions search '<where json>' [--limit N] [--json]
 *   omniline channels disconnect|reconnect ID [--json]
 */
import { OmnilineError } from '../errors.ts';
import { runScript } from '../runner.ts';
import type { Search } from '../search.ts';
import { createSystem, type System } from '../system.ts';
import type { Condition } from '../where.ts';
import { loadCredentials, saveCredentials } from './config.ts';
import { table } from './table.ts';

const USAGE = `usage:
  omniline script FILE.ts [--context key=value …]   run a script with System, Context and the enums
  omniline login [--url URL] [--login L] [--password P] [--token T]   store a token (mode 0600)
  omniline lines|channels|sessions list [--limit N] [--json]
  omniline sessions search '<where json>' [--limit N] [--json]
  omniline channels disconnect|reconnect ID [--json]
Connects to OMNILINE_URL with OMNILINE_TOKEN, else to what \`omniline login\` stored.`;

interface Args {
  positional: string[];
  flags: Map<string, string[]>;
}

const BOOLEAN_FLAGS = new Set(['json', 'help']);

export function parseArgs(argv: readonly string[]): Args {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    let value = inline;
    if (value === undefined && !BOOLEAN_FLAGS.has(name)) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
    }
    flags.set(name, [...(flags.get(name) ?? []), value ?? 'true']);
  }
  return { positional, flags };
}

class UsageError extends Error {}

const flag = (args: Args, name: string) => args.flags.get(name)?.at(-1);

function limitOf(args: Args): number {
  const raw = flag(args, 'limit') ?? '100';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new UsageError(`--limit ${raw}: an integer from 1`);
  return n;
}

type SystemFields = { __deletedAt: { eq(v: null): Condition } };
type Listed = { raw: object };

const COLUMNS = {
  lines: ['id', 'name', 'createdAt'],
  channels: ['id', 'name', 'type', 'state', 'lineId'],
  sessions: ['id', 'state', 'priority', 'channelId', 'operatorId', 'startedAt'],
} as const;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

async function system(): Promise<System> {
  const { url, token } = await loadCredentials();
  if (!url || !token)
    throw new UsageError('not logged in: run `omniline login`, or set OMNILINE_URL and OMNILINE_TOKEN');
  return createSystem({ url, token });
}

function print(args: Args, items: Listed[], columns: readonly string[]): void {
  const rows = items.map((i) => i.raw as Record<string, unknown>);
  console.log(flag(args, 'json') ? JSON.stringify(rows, null, 2) : table(rows, [...columns]));
}

async function take<T>(iterable: AsyncIterable<T>, limit: number): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) {
    out.push(item);
    if (out.length >= limit) break;
  }
  return out;
}

async function login(args: Args): Promise<void> {
  const stored = await loadCredentials();
  const url = flag(args, 'url') ?? stored.url;
  if (!url) throw new UsageError('login: --url is required the first time');
  let token = flag(args, 'token');
  if (!token) {
    const user = flag(args, 'login');
    if (!user)
      throw new UsageError('login: give --login (with --password, OMNILINE_PASSWORD or stdin) or --token');
    const password = flag(args, 'password') ?? process.env.OMNILINE_PASSWORD ?? (await readStdin());
    const answer = await createSystem({ url, token: 'none' }).transport.post<{ token: string }>(
      '/auth/login',
      {
        login: user,
        password,
      },
    );
    token = answer.token;
  }
  // Check the token before storing it.
  const me = await createSystem({ url, token }).transport.get<{ login: string; role: string }>('/me');
  const file = await saveCredentials({ url, token });
  console.log(`logged in to ${url} as ${me.login} (${me.role}); token stored in ${file}`);
}

export async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  const [command, sub, target] = args.positional;
  if (!command || flag(args, 'help')) {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (command === 'login') {
    await login(args);
    return 0;
  }
  if (command === 'script') {
    if (!sub) throw new UsageError('script: which file?');
    await runScript(sub, { system: await system(), context: args.flags.get('context') ?? [] });
    return 0;
  }
  if ((command === 'lines' || command === 'channels' || command === 'sessions') && sub === 'list') {
    const search = (await system()).lines[command].search() as Search<SystemFields, unknown, Listed>;
    search.where((f, g) => g.and(f.__deletedAt.eq(null))).size(Math.min(limitOf(args), 1000));
    print(args, await take(search, limitOf(args)), COLUMNS[command]);
    return 0;
  }
  if (command === 'sessions' && sub === 'search') {
    if (!target)
      throw new UsageError(
        'sessions search: give the filter as JSON, e.g. \'{"field":"state","op":"eq","value":"Waiting"}\'',
      );
    let where: unknown;
    try {
      where = JSON.parse(target);
    } catch (err) {
      throw new UsageError(`sessions search: the filter is not JSON (${(err as Error).message})`);
    }
    const search = (await system()).lines.sessions.search().where(() => where as never);
    print(args, await take(search.size(Math.min(limitOf(args), 1000)), limitOf(args)), COLUMNS.sessions);
    return 0;
  }
  if (command === 'channels' && (sub === 'disconnect' || sub === 'reconnect')) {
    if (!target) throw new UsageError(`channels ${sub}: which channel id?`);
    const channel = await (await system()).lines.channels.fetch(target);
    await (sub === 'disconnect' ? channel.disconnect(flag(args, 'reason')) : channel.reconnect());
    print(args, [channel], COLUMNS.channels);
    return 0;
  }
  throw new UsageError(`unknown command: ${args.positional.join(' ')}`);
}

/** Runs the CLI and exits: 0 done, 1 refused or failed (the server's code and message), 2 bad usage. */
export async function run(argv: readonly string[]): Promise<never> {
  let code: number;
  try {
    code = await main(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`omniline: ${err.message}\n\n${USAGE}`);
      code = 2;
    } else if (err instanceof OmnilineError) {
      console.error(`omniline: ${err.code} (${err.status}): ${err.message}`);
      if (err.details !== undefined) console.error(JSON.stringify(err.details));
      code = 1;
    } else {
      console.error(`omniline: ${(err as Error)?.stack ?? String(err)}`);
      code = 1;
    }
  }
  process.exit(code);
}
