import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { formatRecord, prettyStream } from './log-pretty.ts';
import { logDestination, loggerOptions } from './log-redaction.ts';

function capture() {
  const lines: string[] = [];
  return { lines, out: { write: (text: string) => lines.push(...text.split('\n').filter(Boolean)) } };
}

describe('readable logs', () => {
  it('writes time, level, message and fields on one line, after redaction', () => {
    const { lines, out } = capture();
    const log = pino(loggerOptions('info'), prettyStream(out, false));
    log.info({ user: 'ann', password: 'hunter2', note: 'two words' }, 'logged in');
    assert.equal(lines.length, 1);
    assert.match(
      lines[0]!,
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}logged in user=ann password=\[redacted\] note="two words"$/,
    );
    assert.doesNotMatch(lines[0]!, /hunter2/);
  });

  it('puts an error’s stack under its line', () => {
    const { lines, out } = capture();
    pino(loggerOptions('info'), prettyStream(out, false)).error({ err: new Error('boom') }, 'send failed');
    assert.match(lines[0]!, / ERROR send failed$/);
    assert.equal(lines[1], '    Error: boom');
    assert.match(lines[2]!, /^ {4}at /);
  });

  it('shortens Fastify’s request lines to the method, path, status and time', () => {
    const at = Date.UTC(2026, 0, 1, 10, 0, 0);
    const incoming = formatRecord(
      { level: 30, time: at, reqId: 'req-1', req: { method: 'GET', url: '/x' }, msg: 'incoming request' },
      false,
    );
    assert.match(incoming, / INFO {2}req-1 → GET \/x$/);
    const done = formatRecord(
      {
        level: 30,
        time: at,
        reqId: 'req-1',
        res: { statusCode: 404 },
        responseTime: 2.345,
        msg: 'request completed',
      },
      false,
    );
    assert.match(done, / INFO {2}req-1 ← 404 2\.3 ms$/);
  });

  it('colours the level only when asked', () => {
    assert.ok(formatRecord({ level: 40, time: 0, msg: 'hm' }, true).includes('\x1b[33mWARN \x1b[0m hm'));
    assert.ok(!formatRecord({ level: 40, time: 0, msg: 'hm' }, false).includes('\x1b'));
  });

  it('is chosen by LOG_PRETTY, else by stdout being a terminal', () => {
    const tty = { isTTY: true, write: () => true } as unknown as NodeJS.WriteStream;
    const pipe = { isTTY: false, write: () => true } as unknown as NodeJS.WriteStream;
    assert.ok(logDestination(null, tty), 'a terminal gets readable lines');
    assert.equal(logDestination(null, pipe), undefined, 'a pipe gets JSON');
    assert.ok(logDestination(true, pipe));
    assert.equal(logDestination(false, tty), undefined);
  });
});
