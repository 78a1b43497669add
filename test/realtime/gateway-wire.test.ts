/** The gateway on the wire, with a raw WebSocket client: framing, errors, limits and timers. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import WebSocket from 'ws';
import { connectCmd, type Node, rawClient, sleep, startNode, waitFor } from './helpers.ts';

const nodes: Node[] = [];
after(async () => {
  for (const n of nodes) await n.close();
});
async function node(opts: Parameters<typeof startNode>[0] = {}) {
  const n = await startNode(opts);
  nodes.push(n);
  return n;
}
const byId = (messages: any[], id: number) => messages.find((m) => m.id === id);

describe('realtime gateway on the wire', () => {
  it('closes a client that sends garbage with 3501 bad request', async () => {
    const n = await node();
    const c = await rawClient(n.url);
    c.ws.send('not json');
    assert.deepEqual(await c.closed, { code: 3501, reason: 'bad request' });
  });

  it('closes a client whose first command is not connect with 3501', async () => {
    const n = await node();
    const c = await rawClient(n.url);
    c.ws.send(JSON.stringify({ id: 1, subscribe: { channel: 'chat:1' } }));
    assert.equal((await c.closed).code, 3501);
  });

  it('answers connect and subscribe sent in one frame, in one frame', async () => {
    const n = await node({ canSubscribe: () => true });
    const c = await rawClient(n.url);
    c.ws.send(`${connectCmd(1, 'tok-1')}\n${JSON.stringify({ id: 2, subscribe: { channel: 'chat:1' } })}`);
    await waitFor(() => c.messages.length >= 2, 3000, 'replies');
    const connect = byId(c.messages, 1).connect;
    assert.equal(connect.ping, 25);
    assert.equal(connect.pong, true);
    assert.equal(connect.version, '1.0.0');
    assert.deepEqual(Object.keys(connect.subs), ['operator:1']);
    const sub = connect.subs['operator:1'];
    assert.equal(sub.recoverable, true);
    assert.equal(sub.positioned, true);
    assert.equal(typeof sub.epoch, 'string');
    assert.equal(sub.offset, undefined, 'zero offset omitted');
    assert.deepEqual(Object.keys(byId(c.messages, 2).subscribe).sort(), [
      'epoch',
      'positioned',
      'recoverable',
    ]);
    assert.equal(c.frames.length, 1, 'both replies batched into one frame');
  });

  it('writes publications of one tick as one frame, each with its offset', async () => {
    const n = await node();
    const c = await rawClient(n.url);
    c.ws.send(connectCmd(1, 'tok-2'));
    await waitFor(() => c.messages.length === 1, 3000, 'connect');
    await Promise.all([n.gateway.publish('operator:2', { a: 1 }), n.gateway.publish('operator:2', { a: 2 })]);
    await waitFor(() => c.messages.length === 3, 3000, 'pushes');
    assert.equal(c.frames.length, 2);
    assert.equal(
      c.frames[1],
      '{"push":{"channel":"operator:2","pub":{"data":{"a":1},"offset":1}}}\n' +
        '{"push":{"channel":"operator:2","pub":{"data":{"a":2},"offset":2}}}',
    );
  });

  it('replays missed publications in the connect reply when the client sends its position', async () => {
    const n = await node();
    const first = await n.gateway.publish('operator:3', { n: 1 });
    await n.gateway.publish('operator:3', { n: 2 });
    await n.gateway.publish('operator:3', { n: 3 });
    const c = await rawClient(n.url);
    c.ws.send(
      connectCmd(1, 'tok-3', { subs: { 'operator:3': { recover: true, offset: 1, epoch: first.epoch } } }),
    );
    await waitFor(() => c.messages.length === 1, 3000, 'connect');
    assert.deepEqual(c.messages[0].connect.subs['operator:3'], {
      recoverable: true,
      positioned: true,
      epoch: first.epoch,
      offset: 1,
      was_recovering: true,
      recovered: true,
      publications: [
        { data: { n: 2 }, offset: 2 },
        { data: { n: 3 }, offset: 3 },
      ],
    });
  });

  it('answers 112 to a subscribe that asks to reject an unrecoverable position', async () => {
    const n = await node({ canSubscribe: () => true });
    const c = await rawClient(n.url);
    const sub = { channel: 'chat:9', recover: true, offset: 5, epoch: 'gone', flag: 3 };
    c.ws.send(`${connectCmd(1, 'tok-4')}\n${JSON.stringify({ id: 2, subscribe: sub })}`);
    await waitFor(() => c.messages.length === 2, 3000, 'replies');
    assert.deepEqual(byId(c.messages, 2).error, { code: 112, message: 'unrecoverable position' });
    c.ws.send(JSON.stringify({ id: 3, history: { channel: 'chat:9', since: { offset: 1, epoch: 'gone' } } }));
    await waitFor(() => byId(c.messages, 3), 3000, 'history reply');
    assert.equal(byId(c.messages, 3).error.code, 112);
  });

  it('answers command errors: 105 already subscribed, 106 limit, 108 presence, 104 no such rpc', async () => {
    const n = await node({ canSubscribe: () => true, maxSubscriptions: 2 });
    const c = await rawClient(n.url);
    const cmds = [
      connectCmd(1, 'tok-5'),
      JSON.stringify({ id: 2, subscribe: { channel: 'a' } }),
      JSON.stringify({ id: 3, subscribe: { channel: 'a' } }),
      JSON.stringify({ id: 4, subscribe: { channel: 'b' } }),
      JSON.stringify({ id: 5, presence: { channel: 'a' } }),
      JSON.stringify({ id: 6, rpc: { method: 'x' } }),
      JSON.stringify({ id: 7, ping: {} }),
    ];
    c.ws.send(cmds.join('\n'));
    await waitFor(() => c.messages.length === 7, 3000, 'replies');
    assert.equal(byId(c.messages, 3).error.code, 105);
    assert.equal(byId(c.messages, 4).error.code, 106);
    assert.equal(byId(c.messages, 5).error.code, 108);
    assert.equal(byId(c.messages, 6).error.code, 104);
    assert.deepEqual(byId(c.messages, 7), { id: 7, ping: {} });
  });

  it('pings every interval and closes with 3012 when no pong comes', async () => {
    const n = await node({ pingIntervalSec: 1, pongTimeoutMs: 300, tickMs: 50 });
    const c = await rawClient(n.url);
    c.ws.send(connectCmd(1, 'tok-6'));
    const closed = await c.closed;
    assert.ok(
      c.messages.some((m) => Object.keys(m).length === 0),
      'a ping {} was sent',
    );
    assert.deepEqual(closed, { code: 3012, reason: 'no pong' });
  });

  it('keeps a client that answers pings', async () => {
    const n = await node({ pingIntervalSec: 1, pongTimeoutMs: 300, tickMs: 50 });
    const c = await rawClient(n.url);
    c.ws.on('message', (d) => {
      if (d.toString() === '{}') c.ws.send('{}');
    });
    c.ws.send(connectCmd(1, 'tok-7'));
    await sleep(2500);
    assert.equal(c.ws.readyState, WebSocket.OPEN);
    assert.ok(c.messages.filter((m) => Object.keys(m).length === 0).length >= 2);
    c.ws.close();
  });

  it('closes a socket that never connects with 3502 stale', async () => {
    const n = await node({ staleMs: 200, tickMs: 50 });
    const c = await rawClient(n.url);
    assert.equal((await c.closed).code, 3502);
  });

  it('closes a frame larger than maxFrameBytes with 1009', async () => {
    const n = await node({ maxFrameBytes: 1024 });
    const c = await rawClient(n.url);
    c.ws.send(connectCmd(1, 'tok-8', { name: 'x'.repeat(2000) }));
    assert.equal((await c.closed).code, 1009);
  });

  it('closes a client over the command rate with 3013', async () => {
    const n = await node({ maxCommandsPerSecond: 10 });
    const c = await rawClient(n.url);
    c.ws.send(connectCmd(1, 'tok-9'));
    for (let i = 2; i < 20; i++) c.ws.send(JSON.stringify({ id: i, ping: {} }));
    assert.equal((await c.closed).code, 3013);
  });

  it('closes a slow consumer with 3008', async () => {
    const n = await node({ maxBufferedBytes: 256 * 1024 });
    const c = await rawClient(n.url);
    c.ws.send(connectCmd(1, 'tok-10'));
    await waitFor(() => c.messages.length === 1, 3000, 'connect');
    (c.ws as any)._socket.pause(); // stop reading: the server's buffers fill up
    const big = { blob: 'x'.repeat(64 * 1024) };
    for (let i = 0; i < 400 && c.ws.readyState === WebSocket.OPEN; i++) {
      await n.gateway.publish('operator:10', big);
      await sleep(1);
      if (n.gateway.connectionsOf('10').length === 0) break;
    }
    assert.equal(n.gateway.connectionsOf('10').length, 0, 'the server dropped it');
    (c.ws as any)._socket.resume();
    assert.equal((await c.closed).code, 3008);
  });

  it('answers 404 to an upgrade on another path', async () => {
    const n = await node();
    const ws = new WebSocket(`ws://127.0.0.1:${n.port}/other`);
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(-1));
    });
    assert.equal(status, 404);
  });

  it('also serves /connection/websocket', async () => {
    const n = await node();
    const c = await rawClient(`ws://127.0.0.1:${n.port}/connection/websocket`);
    c.ws.send(connectCmd(1, 'tok-11'));
    await waitFor(() => c.messages.length === 1, 3000, 'connect');
    assert.ok(c.messages[0].connect.client);
    c.ws.close();
  });

  it('refuses a connection over the per-user limit with 3504', async () => {
    const n = await node({ maxConnectionsPerUser: 1 });
    const first = await rawClient(n.url);
    first.ws.send(connectCmd(1, 'tok-12'));
    await waitFor(() => first.messages.length === 1, 3000, 'first connected');
    const second = await rawClient(n.url);
    second.ws.send(connectCmd(1, 'tok-12'));
    assert.equal((await second.closed).code, 3504);
    assert.equal(first.ws.readyState, WebSocket.OPEN);
    first.ws.close();
  });

  it('answers 403 to an upgrade from an origin checkOrigin refuses', async () => {
    const n = await node({ checkOrigin: (origin) => origin === 'https://ok.example' });
    const ws = new WebSocket(n.url, { origin: 'https://evil.example' });
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(-1));
    });
    assert.equal(status, 403);
  });
});
