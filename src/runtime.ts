/**
 * Starting the server's parts in order — database, migrations, secrets, services, first admin — as
 * one function that main.ts and the tests' child processes share.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from './config.ts';
import { type Database, openDatabase } from './db/client.ts';
import { migrate } from './db/migrate.ts';
import { GeoIp } from './lib/geoip.ts';
import { SecretBox } from './lib/secret-box.ts';
import { createPlatform, type Platform, type PlatformOptions } from './platform.ts';
import { loadPlugins } from './plugins.ts';

/** The configured key, or (embedded mode) one generated once into the data directory. */
export function resolveSecretKey(config: Config): string {
  if (config.secretKey) return config.secretKey;
  const file = path.join(config.dataDir, 'secret.key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(config.dataDir, { recursive: true });
  const key = randomBytes(32).toString('hex');
  writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}

export interface Runtime {
  config: Config;
  database: Database;
  platform: Platform;
  /** Set when this start created the first admin. */
  bootstrap: { login: string; password: string | null } | null;
  close(): Promise<void>;
}

export async function startRuntime(config: Config, log: PlatformOptions['log']): Promise<Runtime> {
  const database = await openDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    maxConnections: config.databasePoolSize,
    unavailableAfterMs: config.databaseTimeoutMs,
    log,
  });
  try {
    await migrate(database.db);
    const platform = createPlatform({
      db: database.db,
      redisUrl: config.redisUrl,
      secrets: new SecretBox(resolveSecretKey(config)),
      filesDir: config.filesDir,
      publicUrl: config.publicUrl,
      security: config.security,
      clientOfflineTimeoutSeconds: config.clientOfflineTimeoutSeconds,
      fetchAllowPrivate: config.fetchAllowPrivate,
      geoip: config.geoipCsv ? new GeoIp(config.geoipCsv) : null,
      smtpIn:
        config.smtpPort === null
          ? null
          : {
              port: config.smtpPort,
              host: config.host,
              maxBytes: config.smtpMaxBytes,
              tlsCert: config.smtpTlsCert,
              tlsKey: config.smtpTlsKey,
            },
      plugins: await loadPlugins(config.plugins),
      log,
    });
    await platform.broker.ready();
    const bootstrap = await platform.services.users.bootstrapAdmin(config.adminLogin, config.adminPassword);
    return {
      config,
      database,
      platform,
      bootstrap,
      close: async () => {
        await platform.stop();
        await database.close();
      },
    };
  } catch (err) {
    await database.close();
    throw err;
  }
}
