/** Entry point: config → runtime → buildApp → listen, with graceful shutdown. */
import pino from 'pino';
import { buildApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { logDestination, loggerOptions, safeError } from './lib/log-redaction.ts';
import { startRuntime } from './runtime.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = pino(loggerOptions(config.logLevel), logDestination(config.logPretty));
  // Background work answers its own failures; one that escapes is a defect to log, not a reason to
  // drop every connection of the node (a database outage must never stop the process).
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));
  const runtime = await startRuntime(config, logger);
  const app = await buildApp({ platform: runtime.platform, bodyLimitBytes: config.bodyLimitBytes, logger });
  const address = await app.listen({ port: config.port, host: config.host });
  runtime.platform.start();
  if (runtime.platform.smtpIn) await runtime.platform.smtpIn.listen();
  const mode =
    runtime.database.kind === 'pglite' ? `embedded PostgreSQL in ${config.dataDir}` : 'PostgreSQL server';
  app.log.info(`Omniline listening on ${address} (${mode}); API docs at ${address}/api/docs`);
  if (runtime.bootstrap) {
    const { login, password } = runtime.bootstrap;
    const base = `http://localhost:${config.port}`;
    process.stdout.write(
      [
        '',
        '  First start: an administrator was created.',
        `    login:    ${login}`,
        password
          ? `    password: ${password}    (shown once — write it down)`
          : '    password: the one in OMNILINE_ADMIN_PASSWORD',
        `  Log in:   curl -s ${base}/api/v1/auth/login -H 'content-type: application/json' \\`,
        `              -d '{"login":"${login}","password":"<password>"}'`,
        '',
      ].join('\n'),
    );
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info(`${signal}: shutting down`);
    const force = setTimeout(() => process.exit(1), 10_000).unref();
    await app.close();
    await runtime.close();
    clearTimeout(force);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  const safe = safeError(err) as { stack?: string; message?: string };
  process.stderr.write(`failed to start: ${safe.stack ?? safe.message ?? String(err)}\n`);
  process.exit(1);
});
