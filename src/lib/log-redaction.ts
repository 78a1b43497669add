/**
 * What a log line may not carry: passwords, password hashes, tokens, provider secrets. Two leaks are
 * closed here, once for every logger of the process:
 *
 * - known paths of logged objects (`req.headers.authorization`, `*.password`, `*.token`, …) are
 *   censored by pino's `redact`;
 * - a failed statement's parameters: Drizzle's `DrizzleQueryError` puts them into its message
 *   ("Failed query: … params: …") and its `params` field, and a driver error may carry `parameters`.
 *   `safeError` keeps the statement's text and the server's error, and drops every parameter.
 */
import type { DestinationStream, LoggerOptions } from 'pino';
import { prettyStream } from './log-pretty.ts';

const CENSOR = '[redacted]';

/** Object paths pino censors wherever they appear at these depths. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-omniline-signature"]',
  'req.headers["x-telegram-bot-api-secret-token"]',
  ...['password', 'passwordHash', 'token', 'secret', 'settings', 'accessToken', 'appSecret'].flatMap((k) => [
    k,
    `*.${k}`,
    `*.*.${k}`,
  ]),
];

const PARAMS_IN_MESSAGE = /\nparams: [\s\S]*$/;
const PARAM_FIELDS = new Set(['params', 'parameters', 'args']);

/** An error as a plain object fit for a log: message, code, stack and causes, without parameters. */
export function safeError(err: unknown, depth = 0): unknown {
  if (!(err instanceof Error) || depth > 4) return err;
  const strip = (text: string | undefined) => text?.replace(PARAMS_IN_MESSAGE, '\nparams: [redacted]');
  const out: Record<string, unknown> = {
    type: err.name,
    message: strip(err.message),
    stack: err.stack?.replace(err.message, strip(err.message) ?? ''),
  };
  for (const [key, value] of Object.entries(err)) {
    if (PARAM_FIELDS.has(key) || key === 'cause') continue;
    out[key] = value;
  }
  if (err.cause !== undefined) out.cause = safeError(err.cause, depth + 1);
  return out;
}

/** pino options every logger of Omniline uses. */
export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: CENSOR },
    serializers: { err: safeError, error: safeError },
  };
}

/**
 * Where a logger writes: readable lines (log-pretty.ts) when `pretty`, or when it is null (LOG_PRETTY
 * unset) and stdout is a terminal; else pino's default, JSON lines on stdout. Both after redaction.
 */
export function logDestination(
  pretty: boolean | null,
  out: NodeJS.WriteStream = process.stdout,
): DestinationStream | undefined {
  const readable = pretty ?? out.isTTY === true;
  return readable ? prettyStream(out, out.isTTY === true && !process.env.NO_COLOR) : undefined;
}
