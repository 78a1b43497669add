/**
 * Configuration from the environment, validated once at start. Every problem is reported together,
 * naming the variable, so a misconfigured deployment fails fast with one clear message.
 *
 * Each variable is declared once, below, with its name, default and meaning: `loadConfig` reads the
 * environment through these declarations, and the README's configuration table is generated from
 * them (`npm run docs:config`; src/config.test.ts fails when the README differs).
 */
import { isIP } from 'node:net';
import path from 'node:path';
import { markdownTable } from './lib/markdown-table.ts';
import { hostEntryProblem } from './providers/fetch-guard.ts';
import { DEFAULT_SECURITY, type SecuritySettings } from './security/settings.ts';

export interface Config {
  port: number;
  host: string;
  /** PostgreSQL server URL; absent means embedded PostgreSQL (PGlite) in `dataDir`. */
  databaseUrl: string | null;
  /** Connections this node opens to the PostgreSQL server at most. */
  databasePoolSize: number;
  /** How long a request waits for a PostgreSQL server that does not answer before it gets 503 (ms). */
  databaseTimeoutMs: number;
  redisUrl: string | null;
  dataDir: string;
  /** Root of the local file store (attachments). */
  filesDir: string;
  /** Key material for encrypting provider secrets at rest; null means "generate into dataDir" (embedded only). */
  secretKey: string | null;
  adminLogin: string;
  adminPassword: string | null;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Readable log lines instead of JSON; null: when stdout is a terminal. */
  logPretty: boolean | null;
  bodyLimitBytes: number;
  /** Public base URL of this server, used to build webhook URLs given to messengers. */
  publicUrl: string | null;
  plugins: string[];
  /** Login, API and webhook limits, the metrics token and trusted proxies. */
  security: SecuritySettings;
  /** A client silent this long goes offline, on lines that set no timeout of their own (seconds; 0 never). */
  clientOfflineTimeoutSeconds: number;
  /** Hosts providers may fetch from although they are private (the SSRF guard's allow-list). */
  fetchAllowPrivate: string[];
  /** An IP2Location LITE DB11 CSV file: live-chat visitors' coordinates; none, none. */
  geoipCsv: string | null;
  /** SMTP in: the listener's port; null: no listener. */
  smtpPort: number | null;
  smtpMaxBytes: number;
  smtpTlsCert: string | null;
  smtpTlsKey: string | null;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** One environment variable: its name, its default and meaning as documented, and how it is read. */
export interface Variable<T> {
  name: string;
  /** The default as the README shows it (markdown); `—` when there is none. */
  default: string;
  /** What it is for (markdown), the README's "meaning" column. */
  description: string;
  /** The value from the raw text (trimmed, null when unset or empty); a bad one adds a problem. */
  read(raw: string | null, problems: string[], env: (name: string) => string | null): T;
}

const NONE = '—';
const code = (value: unknown) => `\`${value}\``;

function integer(
  name: string,
  fallback: number,
  [min, max]: [number, number],
  description: string,
  shown = code(fallback),
): Variable<number> {
  return {
    name,
    default: shown,
    description,
    read(raw, problems) {
      if (raw === null) return fallback;
      const n = Number(raw);
      if (!Number.isInteger(n) || n < min || n > max) {
        problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
        return fallback;
      }
      return n;
    },
  };
}

/** A duration set in seconds, read as milliseconds. */
function seconds(
  name: string,
  fallbackMs: number,
  range: [number, number],
  description: string,
): Variable<number> {
  const s = integer(name, fallbackMs / 1000, range, description);
  return { ...s, read: (raw, problems, env) => s.read(raw, problems, env) * 1000 };
}

function text(name: string, fallback: string, description: string): Variable<string> {
  return { name, default: code(fallback), description, read: (raw) => raw ?? fallback };
}

function optional(
  name: string,
  description: string,
  opts: { shown?: string; minLength?: number; hint?: string } = {},
): Variable<string | null> {
  return {
    name,
    default: opts.shown ?? NONE,
    description,
    read(raw, problems) {
      if (raw !== null && opts.minLength !== undefined && raw.length < opts.minLength) {
        problems.push(`${name} must be at least ${opts.minLength} characters${opts.hint ?? ''}`);
      }
      return raw;
    },
  };
}

function url(name: string, protocols: string[], description: string): Variable<string | null> {
  return {
    name,
    default: NONE,
    description,
    read(raw, problems) {
      if (raw === null) return null;
      try {
        const u = new URL(raw);
        if (!protocols.includes(u.protocol)) {
          problems.push(`${name} must use ${protocols.join(' or ')}, got "${u.protocol}"`);
        }
      } catch {
        problems.push(`${name} is not a valid URL`);
      }
      return raw;
    },
  };
}

function oneOf<const T extends string>(
  name: string,
  fallback: T,
  values: readonly T[],
  description: string,
): Variable<T> {
  return {
    name,
    default: code(fallback),
    description,
    read(raw, problems) {
      if (raw === null) return fallback;
      if (!(values as readonly string[]).includes(raw)) {
        problems.push(`${name} must be one of ${values.join(', ')}`);
        return fallback;
      }
      return raw as T;
    },
  };
}

/** A yes/no switch: `1`/`true`/`yes` or `0`/`false`/`no`; unset is null (the caller decides). */
function flag(name: string, shown: string, description: string): Variable<boolean | null> {
  return {
    name,
    default: shown,
    description,
    read(raw, problems) {
      if (raw === null) return null;
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      problems.push(`${name} must be 1 or 0 (true or false), got "${raw}"`);
      return null;
    },
  };
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The server's variables, in the README's order. */
export const VARIABLES = {
  port: integer('PORT', 8080, [0, 65535], 'the port to listen on'),
  host: text('HOST', '0.0.0.0', 'the address to listen on'),
  databaseUrl: url(
    'DATABASE_URL',
    ['postgres:', 'postgresql:'],
    'a PostgreSQL server (`postgres://…`); without it, embedded PGlite in the data dir',
  ),
  databasePoolSize: integer(
    'OMNILINE_DB_POOL_SIZE',
    10,
    [1, 1000],
    'connections a node opens to the PostgreSQL server; on a small server fewer do better (bench:routing `--pool`)',
  ),
  databaseTimeoutMs: integer(
    'OMNILINE_DB_TIMEOUT_MS',
    5000,
    [1000, 60_000],
    'how long a request waits for a PostgreSQL server that does not answer before it gets 503 `DATABASE_UNAVAILABLE` (ms)',
  ),
  dataDir: {
    ...text('OMNILINE_DATA_DIR', './data', 'embedded database and generated secret key'),
    read: (raw) => path.resolve(raw ?? './data'),
  } satisfies Variable<string>,
  filesDir: {
    name: 'OMNILINE_FILES_DIR',
    default: '`<data dir>/files`',
    description: 'the file store: attachments received and sent, content-addressed',
    read: (raw, _problems, env) =>
      path.resolve(raw ?? path.join(env('OMNILINE_DATA_DIR') ?? './data', 'files')),
  } satisfies Variable<string>,
  secretKey: optional(
    'OMNILINE_SECRET_KEY',
    '≥ 32 characters; encrypts provider secrets at rest (AES-256-GCM). Required with `DATABASE_URL` — every node must share it',
    {
      shown: 'generated into the data dir (embedded only)',
      minLength: 32,
      hint: ' (e.g. `openssl rand -hex 32`)',
    },
  ),
  adminLogin: text(
    'OMNILINE_ADMIN_LOGIN',
    'admin',
    'the first admin, created on first start with an empty database',
  ),
  adminPassword: optional(
    'OMNILINE_ADMIN_PASSWORD',
    'the first admin’s password (≥ 8 characters); without it one is generated and printed once',
    { shown: 'generated', minLength: 8 },
  ),
  geoipCsv: optional(
    'OMNILINE_GEOIP_CSV',
    'an IP2Location LITE DB11 CSV file (IPv4): live-chat visitors get `coordinates` from it; without one they have none',
  ),
  redisUrl: url('REDIS_URL', ['redis:', 'rediss:'], 'cross-node fan-out (cluster mode)'),
  publicUrl: url(
    'OMNILINE_PUBLIC_URL',
    ['http:', 'https:'],
    'this server’s public base URL: the webhook URLs given to messengers, the file links in api callbacks',
  ),
  plugins: {
    name: 'OMNILINE_PLUGINS',
    default: NONE,
    description:
      'comma-separated modules (`.js` or `.ts`) that add providers and routing rules (see Adding a channel provider)',
    read: (raw) =>
      (raw ?? '')
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
  } satisfies Variable<string[]>,
  logLevel: oneOf('LOG_LEVEL', 'info', LOG_LEVELS, `pino level: ${LOG_LEVELS.join(', ')}`),
  logPretty: flag(
    'LOG_PRETTY',
    'when stdout is a terminal',
    '`1`: readable log lines (time, level, message, fields; colours on a terminal); `0`: JSON lines, one per record',
  ),
  bodyLimitBytes: integer(
    'OMNILINE_BODY_LIMIT_BYTES',
    1024 * 1024,
    [1024, 1024 * 1024 * 1024],
    'request body limit (413 beyond)',
    '1 MiB',
  ),
  clientOfflineTimeoutSeconds: integer(
    'OMNILINE_CLIENT_OFFLINE_TIMEOUT_SECONDS',
    300,
    [0, 604_800],
    'a client silent this long turns offline (`clientOffline`), on lines that set no `clientOfflineTimeoutSeconds`; 0: never',
  ),
  fetchAllowPrivate: {
    name: 'OMNILINE_FETCH_ALLOW_PRIVATE',
    default: NONE,
    description:
      'hosts (`name`, `address`, `name:port`; comma-separated) providers may fetch from although private (see Receive)',
    read(raw, problems) {
      const hosts = (raw ?? '')
        .split(',')
        .map((h) => h.trim())
        .filter(Boolean);
      for (const h of hosts) {
        const problem = hostEntryProblem(h);
        if (problem) problems.push(`OMNILINE_FETCH_ALLOW_PRIVATE: ${problem}`);
      }
      return hosts;
    },
  } satisfies Variable<string[]>,
  smtpPort: {
    name: 'OMNILINE_SMTP_PORT',
    default: NONE,
    description:
      'SMTP in: the listener port for mail to inbox channels’ `smtpIn.address` (MX or forwarding); unset: none',
    read: (raw, problems, env) =>
      raw === null ? null : integer('OMNILINE_SMTP_PORT', 25, [1, 65535], '').read(raw, problems, env),
  } satisfies Variable<number | null>,
  smtpMaxBytes: integer(
    'OMNILINE_SMTP_MAX_BYTES',
    25 * 1024 * 1024,
    [1024, 1024 * 1024 * 1024],
    'SMTP in: the largest message taken (advertised as SIZE; 552 beyond)',
    '25 MiB',
  ),
  smtpTlsCert: optional(
    'OMNILINE_SMTP_TLS_CERT',
    'SMTP in: a PEM certificate (chain) file; with `OMNILINE_SMTP_TLS_KEY` the listener offers STARTTLS',
  ),
  smtpTlsKey: optional('OMNILINE_SMTP_TLS_KEY', 'SMTP in: the PEM private key of `OMNILINE_SMTP_TLS_CERT`'),
};

const S = DEFAULT_SECURITY;

/** Login, API and webhook limits (0 turns a limit off), the metrics token, trusted proxies. */
export const SECURITY_VARIABLES = {
  loginMaxFailures: integer(
    'OMNILINE_LOGIN_MAX_FAILURES',
    S.loginMaxFailures,
    [0, 1000],
    'refused logins of one login (from any address) in the window before it is locked; 0: no per-login lock',
  ),
  loginIpMaxFailures: integer(
    'OMNILINE_LOGIN_IP_MAX_FAILURES',
    S.loginIpMaxFailures,
    [0, 1_000_000],
    'refused logins from one address (any login) in the window before the address is locked; 0: none',
  ),
  loginFailureWindowMs: seconds(
    'OMNILINE_LOGIN_FAILURE_WINDOW_SECONDS',
    S.loginFailureWindowMs,
    [1, 86_400],
    'the window those failures are counted in (seconds)',
  ),
  loginLockMs: seconds(
    'OMNILINE_LOGIN_LOCK_SECONDS',
    S.loginLockMs,
    [1, 86_400],
    'the first lock (seconds); each further lock of the same key within a day doubles it, up to the max',
  ),
  loginLockMaxMs: seconds(
    'OMNILINE_LOGIN_LOCK_MAX_SECONDS',
    S.loginLockMaxMs,
    [1, 7 * 86_400],
    'the longest lock (seconds)',
  ),
  loginIpRateLimit: integer(
    'OMNILINE_LOGIN_RATE_LIMIT',
    S.loginIpRateLimit,
    [0, 1_000_000],
    'login requests per minute from one address, whatever their outcome (429 `TOO_MANY_REQUESTS`); 0: off',
  ),
  apiRateLimit: integer(
    'OMNILINE_API_RATE_LIMIT',
    S.apiRateLimit,
    [0, 100_000_000],
    'API requests per minute per token (per address without one); 0: off',
  ),
  webhookRateLimit: integer(
    'OMNILINE_WEBHOOK_RATE_LIMIT',
    S.webhookRateLimit,
    [0, 100_000_000],
    'webhook requests per minute per channel; off by default: one busy channel takes thousands a second',
    '`0` (off)',
  ),
  livechatVisitorRateLimit: integer(
    'OMNILINE_LIVECHAT_VISITOR_RATE_LIMIT',
    S.livechatVisitorRateLimit,
    [0, 100_000_000],
    'live-chat widget requests per minute per visitor (429 `TOO_MANY_REQUESTS`); 0: off',
  ),
  livechatIpRateLimit: integer(
    'OMNILINE_LIVECHAT_IP_RATE_LIMIT',
    S.livechatIpRateLimit,
    [0, 100_000_000],
    'live-chat widget requests per minute per address, all its visitors together; 0: off',
  ),
  metricsToken: optional(
    'OMNILINE_METRICS_TOKEN',
    '≥ 16 characters; when set, `GET /metrics` requires `Authorization: Bearer <it>` (else it is public)',
    { minLength: 16 },
  ),
  trustProxy: {
    name: 'OMNILINE_TRUST_PROXY',
    default: code('false'),
    description:
      "`true`, a hop count, or proxies' addresses/CIDRs (comma-separated): who may name the client address in X-Forwarded-For",
    read: (raw, problems) => parseTrustProxy(raw, problems),
  } satisfies Variable<SecuritySettings['trustProxy']>,
};

type Values<T> = { [K in keyof T]: T[K] extends Variable<infer V> ? V : never };

function readAll<T extends Record<string, Variable<unknown>>>(
  table: T,
  problems: string[],
  env: (name: string) => string | null,
): Values<T> {
  const out: Record<string, unknown> = {};
  for (const [key, variable] of Object.entries(table))
    out[key] = variable.read(env(variable.name), problems, env);
  return out as Values<T>;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const raw = (name: string): string | null => {
    const v = env[name]?.trim();
    return v ? v : null;
  };
  const config: Config = {
    ...readAll(VARIABLES, problems, raw),
    security: readAll(SECURITY_VARIABLES, problems, raw),
  };
  if (config.databaseUrl !== null && config.secretKey === null) {
    problems.push('OMNILINE_SECRET_KEY is required with DATABASE_URL (every node must share one key)');
  }
  if ((config.smtpTlsCert === null) !== (config.smtpTlsKey === null)) {
    problems.push('OMNILINE_SMTP_TLS_CERT and OMNILINE_SMTP_TLS_KEY go together: set both or neither');
  }
  if (config.security.loginLockMaxMs < config.security.loginLockMs) {
    problems.push('OMNILINE_LOGIN_LOCK_MAX_SECONDS must not be less than OMNILINE_LOGIN_LOCK_SECONDS');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** OMNILINE_TRUST_PROXY: `true`, a number of proxy hops, or proxies' addresses and CIDRs (comma-separated). */
function parseTrustProxy(raw: string | null, problems: string[]): SecuritySettings['trustProxy'] {
  if (raw === null || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  const list = raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const bad = list.filter((p) => {
    const [address = '', bits, ...rest] = p.split('/');
    return isIP(address) === 0 || rest.length > 0 || (bits !== undefined && !/^\d{1,3}$/.test(bits));
  });
  if (bad.length > 0) {
    problems.push(
      `OMNILINE_TRUST_PROXY must be true, false, a hop count or addresses/CIDRs, got "${bad.join(',')}"`,
    );
  }
  return list;
}

/** Every variable, in the README's order. */
export function allVariables(): Variable<unknown>[] {
  return [...Object.values(VARIABLES), ...Object.values(SECURITY_VARIABLES)];
}

/** The README's configuration table (markdown, columns padded), generated from the declarations. */
export function configTable(): string {
  return markdownTable([
    ['variable', 'default', 'meaning'],
    ...allVariables().map((v) => [code(v.name), v.default, v.description]),
  ]);
}
