/**
 * Whether the PostgreSQL server can be reached, and what a caller is told when it cannot.
 *
 * A connection loss (a terminated backend, a restarting server, a network cut) must never crash a
 * node or hang its requests. postgres.js rejects the statements of a connection that closes (with
 * our patch of its reserved connections: patches/postgres+3.4.9.patch) and reconnects on demand;
 * what it does not do is notice a server that stops answering without closing the socket. The
 * monitor below does: it asks the server `SELECT 1` on a connection of its own every second, and
 * when that fails twice in a row (an error, or no answer within the deadline) it declares the
 * database unavailable, destroys every socket of the node's pool (so statements in flight fail at
 * once instead of waiting for TCP to give up) and makes new statements fail fast until the server
 * answers again. Each failure a request meets is answered 503 `DATABASE_UNAVAILABLE` with
 * `Retry-After`.
 */
import net from 'node:net';
import type postgres from 'postgres';
import { AppError } from '../errors.ts';
import { pgError } from './pg-errors.ts';

/** Seconds a caller is told to wait before retrying (the monitor's cadence, rounded up). */
export const RETRY_AFTER_SECONDS = 1;

export class DatabaseUnavailable extends AppError {
  constructor(reason: string) {
    super('DATABASE_UNAVAILABLE', `the database is unavailable (${reason}); retry later`, {
      reason,
      retryAfterSeconds: RETRY_AFTER_SECONDS,
    });
  }
}

/** postgres.js's own codes for a connection that failed, and Node's socket errors. */
const CONNECTION_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs that mean "this connection or server is going away", not "this statement is wrong":
 * class 08 (connection exception), admin/crash shutdown and "cannot connect now" (57P01–57P03),
 * too many connections (53300).
 */
function isUnavailableState(code: string): boolean {
  return (
    code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300'
  );
}

/** True when `err` (or an error it wraps) says the database could not be reached, not that SQL failed. */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    // Drizzle wraps what the driver (or our fail-fast check) threw in its DrizzleQueryError.
    if (e instanceof DatabaseUnavailable) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  }
  const state = pgError(err);
  return state !== null && isUnavailableState(state.code);
}

export interface MonitorOptions {
  /** How long a statement may wait for a server that does not answer before callers get 503 (ms). */
  timeoutMs: number;
  /** Time between two checks (ms). */
  intervalMs?: number;
  log?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

type PostgresOptions = Parameters<typeof postgres>[1] & object;

/**
 * Watches one PostgreSQL server for a node. `socket` is given to postgres.js so the monitor knows
 * every socket of the pool; `check` is the heartbeat statement, run on its own connection.
 */
export class DatabaseMonitor {
  readonly #sockets = new Set<net.Socket>();
  readonly #intervalMs: number;
  readonly #deadlineMs: number;
  #down: string | null = null;
  #timer: NodeJS.Timeout | null = null;
  #checking = false;
  #check: (() => Promise<unknown>) | null = null;

  constructor(private readonly opts: MonitorOptions) {
    this.#intervalMs = opts.intervalMs ?? 1000;
    // Two missed checks and the interval between them fit in the timeout.
    this.#deadlineMs = Math.max(200, Math.floor((opts.timeoutMs - this.#intervalMs) / 2));
  }

  /** postgres.js `socket` option: a TCP (or Unix) socket the monitor can destroy. */
  readonly socket = (o: { host: string[]; port: number[]; path?: string | false }): net.Socket => {
    const s = o.path ? net.connect(o.path) : net.connect(o.port[0] ?? 5432, o.host[0] ?? 'localhost');
    this.#sockets.add(s);
    s.once('close', () => this.#sockets.delete(s));
    return s;
  };

  /**
   * postgres.js options: a connection attempt gives up after half the timeout (on a server that
   * answers it takes milliseconds), so a statement waiting for a new connection when the server
   * stops answering fails within about one and a half timeouts at worst, and any other within one.
   */
  connectionOptions(): Pick<PostgresOptions, 'connect_timeout' | 'backoff'> {
    return {
      connect_timeout: Math.max(1, Math.round(this.opts.timeoutMs / 2000)),
      // postgres.js waits before reconnecting a connection that closed with an error, by a count
      // shared by the whole pool: when every backend is terminated at once, its default (3^n / 100 s,
      // up to 20 s) kept statements waiting for seconds on a server that was there all along. A
      // server that is really gone is the monitor's to notice; reconnect within half a second.
      backoff: (retries: number) => Math.min(0.01 * 2 ** retries, 0.5),
    };
  }

  /** Null while the database answers; else why it is considered unavailable. */
  get down(): string | null {
    return this.#down;
  }

  /** Throws DatabaseUnavailable while the database is down (statements fail fast then). */
  assertUp(): void {
    if (this.#down) throw new DatabaseUnavailable(this.#down);
  }

  start(check: () => Promise<unknown>): void {
    this.#check = check;
    this.#timer = setInterval(() => void this.#tick(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  async #tick(): Promise<void> {
    if (this.#checking || !this.#check) return;
    this.#checking = true;
    try {
      let failure = await this.#attempt();
      // A terminated backend fails one check; a fresh connection tells whether the server is there.
      if (failure && !this.#down) failure = await this.#attempt();
      if (failure) this.#markDown(failure);
      else this.#markUp();
    } finally {
      this.#checking = false;
    }
  }

  async #attempt(): Promise<string | null> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<string>((resolve) => {
      // When the deadline fires, let the event loop read what arrived meanwhile (setImmediate runs
      // after the poll phase) before calling the check unanswered: a node busy for longer than the
      // deadline must not mistake its own lag for a silent server and cut every connection.
      timer = setTimeout(
        () => setImmediate(() => resolve(`no answer within ${this.#deadlineMs} ms`)),
        this.#deadlineMs,
      );
    });
    try {
      return await Promise.race([
        this.#check!().then(
          () => null,
          (err: unknown) => (err as { code?: string }).code ?? (err as Error).message ?? 'error',
        ),
        deadline,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  #markDown(reason: string): void {
    if (this.#down) return;
    this.opts.log?.warn({ reason }, 'database unavailable: statements fail with 503');
    this.#down = reason;
    // Statements in flight on these sockets would wait for TCP to give up: fail them now. Only on
    // the way down: a connection attempt under way must be left to fail by its connect timeout
    // (postgres.js retries an attempt whose socket closes, with its first statement still waiting).
    for (const s of this.#sockets) s.destroy();
  }

  #markUp(): void {
    if (this.#down) this.opts.log?.info({}, 'database available again');
    this.#down = null;
  }
}
