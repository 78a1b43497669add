/**
 * A gateway on a plain `http.createServer()` (no database), the official `centrifuge` SDK as the
 * client, and small raw-WebSocket helpers for what the SDK would never send.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Centrifuge, type Options } from 'centrifuge';
import WebSocket from 'ws';
import { attachGateway, Gateway } from '../../src/realtime/gateway.ts';
import { MemoryBroker } from '../../src/realtime/memory-broker.ts';
import type { GatewayOptions, GatewayUser } from '../../src/realtime/options.ts';

export { waitFor } from '../helpers/wait.ts';

/** Tokens are `tok-<userId>`; anything else is invalid. */
export async function stubAuthenticate(c: { token?: string }): Promise<GatewayUser | null> {
  return c.token?.startsWith('tok-') ? { userId: c.token.slice(4) } : null;
}

export interface Node {
  gateway: Gateway;
  server: http.Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Starts a gateway node; `port` lets a test restart a node where its clients expect it. */
export async function startNode(opts: Partial<GatewayOptions> = {}, port = 0): Promise<Node> {
  const server = http.createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  const gateway = new Gateway({
    broker: opts.broker ?? new MemoryBroker(),
    authenticate: stubAuthenticate,
    serverSideChannels: (user) => [`operator:${user.userId}`],
    ...opts,
  });
  attachGateway(server, gateway);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    gateway,
    server,
    port: actual,
    url: `ws://127.0.0.1:${actual}/centrifugo/connection/websocket`,
    async close() {
      await gateway.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The SDK as the vendor document uses it: `data: {application, settings: {token}}`. */
export function sdk(url: string, token: string, opts: Partial<Options> = {}): Centrifuge {
  return new Centrifuge(url, {
    websocket: WebSocket,
    data: { application: 'notifications', settings: { token } },
    minReconnectDelay: 50,
    maxReconnectDelay: 200,
    ...opts,
  });
}

/** Everything an SDK client reports, for assertions. */
export function record(c: Centrifuge) {
  const log = {
    publications: [] as { channel: string; data: any; offset?: number }[],
    subscribed: [] as { channel: string; recovered: boolean; wasRecovering: boolean; epoch?: string }[],
    unsubscribed: [] as string[],
    disconnected: [] as { code: number; reason: string }[],
    connected: [] as string[],
  };
  c.on('publication', (ctx) =>
    log.publications.push({ channel: ctx.channel, data: ctx.data, offset: ctx.offset }),
  );
  c.on('subscribed', (ctx) =>
    log.subscribed.push({
      channel: ctx.channel,
      recovered: ctx.recovered,
      wasRecovering: ctx.wasRecovering,
      epoch: ctx.streamPosition?.epoch,
    }),
  );
  c.on('unsubscribed', (ctx) => log.unsubscribed.push(ctx.channel));
  c.on('disconnected', (ctx) => log.disconnected.push({ code: ctx.code, reason: ctx.reason }));
  c.on('connected', (ctx) => log.connected.push(ctx.client));
  return log;
}

/** A raw WebSocket client: every frame's lines parsed, plus the close code. */
export async function rawClient(url: string) {
  const ws = new WebSocket(url);
  const frames: string[] = [];
  const messages: any[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  ws.on('message', (data) => {
    const text = data.toString();
    frames.push(text);
    for (const line of text.split('\n')) if (line) messages.push(JSON.parse(line));
  });
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, frames, messages, closed };
}

export const connectCmd = (id: number, token: string, extra: object = {}) =>
  JSON.stringify({ id, connect: { data: { application: 'notifications', settings: { token } }, ...extra } });

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
