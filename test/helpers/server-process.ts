/**
 * The real server as a child process (`node --import tsx src/main.ts`) on a PostgreSQL database, for
 * tests and benchmarks that must kill it, restart it or measure it from outside: a free port picked
 * here, a temporary data directory, a wait for `GET /healthz`, and a keep-alive HTTP client.
 *
 * Every child started here is tracked: `stopAllServers()` (for `after` hooks) kills the ones still
 * running, and hooks on this process's exit and termination signals SIGKILL any left, so no server
 * outlives its test.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = path.join(ROOT, 'src/main.ts');
/** Output kept for error messages (the tail). */
const OUTPUT_LIMIT = 64 * 1024;

export const SERVER_ADMIN_PASSWORD = 'admin-password-1';
export const SERVER_SECRET_KEY = 'server-process-secret-key-0123456789abcdef';

export interface ServerOptions {
  /** Absent: the embedded database (PGlite) in the server's temporary data directory. */
  databaseUrl?: string;
  /** Shared by every start on the same database: it decrypts the channels' settings. */
  secretKey?: string;
  adminPassword?: string;
  logLevel?: string;
  /**
   * A data directory the caller owns (kept after the server exits): a restart on the embedded
   * database (PGlite) finds its data again. Absent: a temporary one, removed on exit.
   */
  dataDir?: string;
  /** Extra environment variables for the child. */
  env?: Record<string, string>;
  /** Extra options for node, before the script (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /** How long to wait for `/healthz` to answer 200 (default 30 s). */
  startTimeoutMs?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Reply<T = any> {
  status: number;
  body: T;
}

export interface RequestOptions {
  /** Sent as is when a string or Buffer (already serialised), else as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  token?: string;
  timeoutMs?: number;
}

export interface ServerProcess {
  readonly pid: number;
  readonly port: number;
  readonly baseUrl: string;
  /** Keep-alive agent for requests to this server. */
  readonly agent: http.Agent;
  /** Resolves when the process has exited. */
  readonly exited: Promise<ExitInfo>;
  isRunning(): boolean;
  /** The tail of the child's stdout and stderr. */
  output(): string;
  request<T = any>(method: string, urlPath: string, opts?: RequestOptions): Promise<Reply<T>>;
  /** Sends the signal (default SIGTERM) and resolves when the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>;
}

/** Children still running, with the promise of their exit. */
const running = new Map<ChildProcess, Promise<ExitInfo>>();
let exitHooksInstalled = false;

function killRunning(): void {
  for (const child of running.keys()) child.kill('SIGKILL');
}

/**
 * Kills the children when this process exits, also on a signal: this handler runs first, and raises
 * the signal again when nothing else handles it, so the default action (termination) still happens.
 */
function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', killRunning);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killRunning();
      if (process.listenerCount(signal) > 1) return; // someone else handles it (and exits)
      process.off(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.prependListener(signal, onSignal);
  }
}

/** A port that was free a moment ago (the OS picks it; the listener is closed before returning). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** One HTTP request through `agent`; the body is JSON-decoded when the answer says it is JSON. */
export function httpRequest<T = any>(
  agent: http.Agent,
  url: string,
  method: string,
  opts: RequestOptions = {},
): Promise<Reply<T>> {
  const payload =
    opts.body === undefined
      ? undefined
      : typeof opts.body === 'string' || Buffer.isBuffer(opts.body)
        ? opts.body
        : JSON.stringify(opts.body);
  const headers: Record<string, string> = {
    ...(payload !== undefined && { 'content-type': 'application/json' }),
    ...(opts.token && { authorization: `Bearer ${opts.token}` }),
    ...opts.headers,
  };
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers, timeout: opts.timeoutMs ?? 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const json = String(res.headers['content-type'] ?? '').includes('json') && text !== '';
        resolve({ status: res.statusCode ?? 0, body: json ? JSON.parse(text) : text });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function captureOutput(child: ChildProcess): () => string {
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => output;
}

/** This process's environment without the test runner's own variables. */
function childEnv(): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  return env;
}

/** Resolves once the process has exited and its output is read to the end. */
function closeOf(child: ChildProcess): Promise<ExitInfo> {
  return new Promise((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitHealthy(server: ServerProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exit: ExitInfo | null = null;
  void server.exited.then((e) => {
    exit = e;
  });
  while (Date.now() < deadline) {
    if (exit) {
      throw new Error(
        `the server exited before it was healthy (${JSON.stringify(exit)}):\n${server.output()}`,
      );
    }
    try {
      const res = await server.request('GET', '/healthz', { timeoutMs: 1000 });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`the server did not answer /healthz within ${timeoutMs} ms:\n${server.output()}`);
}

/** Starts the server and resolves once `GET /healthz` answers 200 (else kills it and rejects). */
export async function startServer(opts: ServerOptions): Promise<ServerProcess> {
  installExitHooks();
  const port = await freePort();
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), 'omniline-server-'));
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', MAIN], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...childEnv(),
      DATABASE_URL: opts.databaseUrl, // undefined: not passed on
      OMNILINE_SECRET_KEY: opts.secretKey ?? SERVER_SECRET_KEY,
      OMNILINE_ADMIN_PASSWORD: opts.adminPassword ?? SERVER_ADMIN_PASSWORD,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: opts.logLevel ?? 'warn',
      OMNILINE_DATA_DIR: dataDir,
      OMNILINE_FILES_DIR: path.join(dataDir, 'files'),
      ...opts.env,
    },
  });
  const output = captureOutput(child);
  const exited = closeOf(child).then((info) => {
    running.delete(child);
    if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    return info;
  });
  running.set(child, exited);
  const baseUrl = `http://127.0.0.1:${port}`;
  const agent = new http.Agent({ keepAlive: true });
  const server: ServerProcess = {
    pid: child.pid!,
    port,
    baseUrl,
    agent,
    exited,
    isRunning: () => running.has(child),
    output,
    request: (method, urlPath, o) => httpRequest(agent, `${baseUrl}${urlPath}`, method, o),
    kill: (signal = 'SIGTERM') => {
      if (running.has(child)) child.kill(signal);
      return exited.finally(() => agent.destroy());
    },
  };
  try {
    await waitHealthy(server, opts.startTimeoutMs ?? 30_000);
  } catch (err) {
    await server.kill('SIGKILL');
    throw err;
  }
  return server;
}

/** Kills every server still running (SIGKILL) and waits for them to exit — for `after` hooks. */
export async function stopAllServers(): Promise<void> {
  const children = [...running];
  for (const [child] of children) child.kill('SIGKILL');
  await Promise.all(children.map(([, exited]) => exited));
}

/** Logs in as the admin and creates a line with an api channel of `secret`; returns the channel id. */
export async function createApiChannel(server: ServerProcess, secret: string, name: string): Promise<string> {
  const login = await server.request('POST', '/api/v1/auth/login', {
    body: { login: 'admin', password: SERVER_ADMIN_PASSWORD },
  });
  if (login.status !== 200) throw new Error(`login answered ${login.status}: ${JSON.stringify(login.body)}`);
  const token: string = login.body.token;
  const line = await server.request('POST', '/api/v1/lines', { token, body: { name } });
  if (line.status !== 201) throw new Error(`creating the line answered ${line.status}`);
  const channel = await server.request('POST', '/api/v1/channels', {
    token,
    body: { lineId: line.body.id, name: `${name} api`, type: 'api', settings: { secret } },
  });
  if (channel.status !== 201) throw new Error(`creating the channel answered ${channel.status}`);
  return channel.body.id;
}
