/**
 * A readable log for a terminal (LOG_PRETTY, or stdout being a TTY): one line per record —
 * `12:04:05.123 INFO  message key=value …` — with requests shortened to `req-1 → GET /path` and
 * `req-1 ← 200 3.1 ms`, and an error's stack on the lines below. It formats the JSON lines pino
 * writes, so redaction and serializers (log-redaction.ts) have already been applied.
 */
import type { DestinationStream } from 'pino';

const LEVELS: Record<number, [label: string, color: number]> = {
  10: ['TRACE', 90],
  20: ['DEBUG', 36],
  30: ['INFO ', 32],
  40: ['WARN ', 33],
  50: ['ERROR', 31],
  60: ['FATAL', 35],
};
/** Fields every record has, or that the line shows in its own way. */
const SHOWN = new Set([
  'level',
  'time',
  'pid',
  'hostname',
  'msg',
  'reqId',
  'req',
  'res',
  'responseTime',
  'err',
]);

const REQUEST_MESSAGES = new Set(['incoming request', 'request completed']);

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

function clock(ms: unknown): string {
  const d = new Date(typeof ms === 'number' ? ms : Date.now());
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

/** One log record (pino's JSON) as a terminal line. */
export function formatRecord(record: Record<string, unknown>, colors: boolean): string {
  const paint = (code: number, text: string) => (colors ? `\x1b[${code}m${text}\x1b[0m` : text);
  const [label, color] = LEVELS[record.level as number] ?? [String(record.level).padEnd(5), 0];
  const parts = [paint(90, clock(record.time)), paint(color, label)];
  const req = record.req as { method?: string; url?: string } | undefined;
  const res = record.res as { statusCode?: number } | undefined;
  if (typeof record.reqId === 'string') parts.push(paint(90, record.reqId));
  const request = req?.method !== undefined;
  const response = !request && res?.statusCode !== undefined;
  if (request) parts.push(`→ ${req.method} ${req.url ?? ''}`);
  if (response) {
    const ms = typeof record.responseTime === 'number' ? ` ${record.responseTime.toFixed(1)} ms` : '';
    parts.push(`← ${res?.statusCode}${ms}`);
  }
  // Fastify's own request lines say it all with the arrow; any other message is kept.
  if (record.msg !== undefined && !((request || response) && REQUEST_MESSAGES.has(String(record.msg))))
    parts.push(String(record.msg));
  const err = record.err as { message?: string; stack?: string } | undefined;
  for (const [key, v] of Object.entries(record)) {
    if (!SHOWN.has(key) && v !== undefined) parts.push(`${paint(90, `${key}=`)}${value(v)}`);
  }
  let line = parts.join(' ');
  if (err) {
    const stack = err.stack ?? err.message ?? value(err);
    line += `\n${stack
      .split('\n')
      .map((l) => (/^\s/.test(l) ? l : `    ${l}`))
      .join('\n')}`;
  }
  return line;
}

/** A pino destination writing `formatRecord` lines to `out` (stdout by default). */
export function prettyStream(
  out: { write(text: string): unknown } = process.stdout,
  colors = process.stdout.isTTY === true && !process.env.NO_COLOR,
): DestinationStream {
  return {
    write(chunk: string) {
      for (const text of chunk.split('\n')) {
        if (!text) continue;
        let record: Record<string, unknown>;
        try {
          record = JSON.parse(text) as Record<string, unknown>;
        } catch {
          out.write(`${text}\n`);
          continue;
        }
        out.write(`${formatRecord(record, colors)}\n`);
      }
    },
  };
}
