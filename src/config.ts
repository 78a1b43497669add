/**
 * Configuration from the environment, validated once at start. Every problem is reported together,
 * naming the variable, so a misconfigured deployment fails fast with one clear message.
 */
import path from 'node:path';

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
  bodyLimitBytes: number;
  /** Public base URL of this server, used to build webhook URLs given to messengers. */
  publicUrl: string | null;
  plugins: string[];
  /** A client silent this long goes offline, on lines that set no timeout of their own (seconds; 0 never). */
  clientOfflineTimeoutSeconds: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const str = (name: string): string | null => {
    const v = env[name]?.trim();
    return v ? v : null;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = str(name);
    if (raw === null) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return n;
  };
  const url = (name: string, protocols: string[]): string | null => {
    const raw = str(name);
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
  };

  const databaseUrl = url('DATABASE_URL', ['postgres:', 'postgresql:']);
  const secretKey = str('OMNILINE_SECRET_KEY');
  if (secretKey !== null && secretKey.length < 32) {
    problems.push('OMNILINE_SECRET_KEY must be at least 32 characters (e.g. `openssl rand -hex 32`)');
  }
  if (databaseUrl !== null && secretKey === null) {
    problems.push('OMNILINE_SECRET_KEY is required with DATABASE_URL (every node must share one key)');
  }
  const logLevel = (str('LOG_LEVEL') ?? 'info') as Config['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  const adminPassword = str('OMNILINE_ADMIN_PASSWORD');
  if (adminPassword !== null && adminPassword.length < 8) {
    problems.push('OMNILINE_ADMIN_PASSWORD must be at least 8 characters');
  }

  const config: Config = {
    port: int('PORT', 8080, 0, 65535),
    host: str('HOST') ?? '0.0.0.0',
    databaseUrl,
    databasePoolSize: int('OMNILINE_DB_POOL_SIZE', 10, 1, 1000),
    databaseTimeoutMs: int('OMNILINE_DB_TIMEOUT_MS', 5000, 1000, 60_000),
    redisUrl: url('REDIS_URL', ['redis:', 'rediss:']),
    dataDir: path.resolve(str('OMNILINE_DATA_DIR') ?? './data'),
    filesDir: path.resolve(
      str('OMNILINE_FILES_DIR') ?? path.join(str('OMNILINE_DATA_DIR') ?? './data', 'files'),
    ),
    secretKey,
    adminLogin: str('OMNILINE_ADMIN_LOGIN') ?? 'admin',
    adminPassword,
    logLevel,
    bodyLimitBytes: int('OMNILINE_BODY_LIMIT_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    publicUrl: url('OMNILINE_PUBLIC_URL', ['http:', 'https:']),
    clientOfflineTimeoutSeconds: int('OMNILINE_CLIENT_OFFLINE_TIMEOUT_SECONDS', 300, 0, 604_800),
    plugins: (str('OMNILINE_PLUGINS') ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
