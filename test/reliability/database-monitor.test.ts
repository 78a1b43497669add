/**
 * The database monitor tells a silent server from a busy node: a heartbeat whose answer is already
 * on the socket when the deadline fires counts as answered, however long the event loop was busy.
 * No database is needed: the heartbeat is a round trip to a TCP echo server in a child process (in
 * this process it could not answer while the loop is busy).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { DatabaseMonitor } from '../../src/db/availability.ts';

let echo: ChildProcess;
let port: number;

before(async () => {
  const program = `const s = require('node:net').createServer((c) => c.pipe(c));
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  echo = spawn(process.execPath, ['-e', program], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(echo.stdout!, 'data')) as [Buffer];
  port = Number(line.toString().trim());
});
after(() => {
  echo.kill();
});

/**
 * A heartbeat on a busy node: it connects, sends its byte and then keeps the event loop busy for
 * `busyMs`, during which the echo arrives; resolves when the echo is read.
 */
async function busyHeartbeat(busyMs: number): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const echoed = new Promise<void>((resolve) => socket.once('data', () => resolve()));
  socket.write('x');
  busy(busyMs);
  await echoed;
  socket.destroy();
}

function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // The node is busy with other work: no timer or socket is served meanwhile.
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  for (const end = Date.now() + timeoutMs; !condition() && Date.now() < end; ) await sleep(20);
}

test('a heartbeat answered while the event loop was busy past the deadline keeps the database up', async () => {
  // timeoutMs 1,200 with checks every 200 ms: each check's deadline is 500 ms.
  const monitor = new DatabaseMonitor({ timeoutMs: 1200, intervalMs: 200 });
  let checks = 0;
  monitor.start(() => {
    checks++;
    return busyHeartbeat(800);
  });
  try {
    await sleep(2500);
    assert.ok(checks >= 2, `the monitor ran ${checks} checks`);
    assert.equal(monitor.down, null);
  } finally {
    monitor.stop();
  }
});

test('a heartbeat that never answers marks the database down, and an answer brings it back', async () => {
  const monitor = new DatabaseMonitor({ timeoutMs: 1200, intervalMs: 200 });
  let silent = true;
  monitor.start(() => (silent ? new Promise(() => {}) : busyHeartbeat(0)));
  try {
    await until(() => monitor.down !== null, 5000);
    assert.match(monitor.down ?? '', /no answer within 500 ms/);
    assert.throws(() => monitor.assertUp(), { code: 'DATABASE_UNAVAILABLE' });
    silent = false;
    await until(() => monitor.down === null, 5000);
    assert.equal(monitor.down, null);
  } finally {
    monitor.stop();
  }
});
