/** The JSON frame codec of the Centrifugo client protocol. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BadRequest,
  connectToken,
  decodeFrame,
  Errors,
  encodeConnectResult,
  encodeError,
  encodeHistoryResult,
  encodePubPush,
  encodeReply,
  encodeSubscribeResult,
  encodeUnsubscribePush,
  UnsubscribeCodes,
} from '../../src/realtime/protocol.ts';

describe('realtime protocol: decoding', () => {
  it('splits a frame on newlines into commands (the SDK sends connect and subscribes together)', () => {
    const frame =
      '{"connect":{"data":{"application":"notifications","settings":{"token":"t"}},"name":"js"},"id":1}\n' +
      '{"subscribe":{"channel":"chat:1","recover":true,"offset":4,"epoch":"e","flag":1},"id":2}\n';
    const [connect, subscribe] = decodeFrame(frame);
    assert.equal(connect?.method, 'connect');
    assert.deepEqual(subscribe, {
      id: 2,
      method: 'subscribe',
      req: { channel: 'chat:1', token: '', data: undefined, flag: 1, recover: true, offset: 4, epoch: 'e' },
    });
  });

  it('reads the token from data.settings.token, else from token', () => {
    const cmd = decodeFrame('{"id":1,"connect":{"data":{"settings":{"token":"vendor"}},"token":"jwt"}}')[0]!;
    assert.ok(cmd.method === 'connect');
    assert.equal(connectToken(cmd.req), 'jwt');
    assert.equal(connectToken({ ...cmd.req, token: '' }), 'vendor');
    assert.equal(connectToken({ ...cmd.req, token: '', data: { settings: { token: 5 } } }), '');
  });

  it('decodes {} as a pong and send without an id', () => {
    assert.deepEqual(decodeFrame('{}'), [{ id: 0, method: 'pong' }]);
    assert.deepEqual(decodeFrame('{"send":{"data":{"event":"typing"}}}'), [
      { id: 0, method: 'send', data: { event: 'typing' } },
    ]);
  });

  it('decodes history with since, limit and reverse; rpc with its method', () => {
    assert.deepEqual(decodeFrame('{"id":3,"history":{"channel":"c","limit":-1,"since":{"offset":2}}}'), [
      {
        id: 3,
        method: 'history',
        req: { channel: 'c', limit: -1, since: { offset: 2, epoch: '' }, reverse: false },
      },
    ]);
    assert.deepEqual(decodeFrame('{"id":4,"rpc":{"method":"typing","data":[1]}}'), [
      { id: 4, method: 'rpc', rpc: 'typing', data: [1] },
    ]);
  });

  it('rejects malformed commands as bad requests', () => {
    for (const bad of [
      'nope',
      '[]',
      '{"id":1}', // no method
      '{"connect":{}}', // no id
      '{"id":1,"connect":{},"ping":{}}', // two methods
      '{"id":-1,"ping":{}}',
      '{"id":1,"subscribe":{}}', // no channel
      '{"id":1,"subscribe":{"channel":"c","offset":"1"}}',
      '{"id":1,"publish":{"channel":"c"}}', // no data
      '{"id":1,"connect":"x"}',
      '{"id":1,"history":{"channel":"c","limit":1.5}}',
      '\n\n',
    ]) {
      assert.throws(() => decodeFrame(bad), BadRequest, bad);
    }
  });
});

describe('realtime protocol: encoding', () => {
  it('encodes replies, errors and pushes with raw JSON data', () => {
    assert.equal(encodeReply(5, 'rpc', '{"data":{}}'), '{"id":5,"rpc":{"data":{}}}');
    assert.equal(encodeReply(6, 'publish'), '{"id":6,"publish":{}}');
    assert.equal(
      encodeError(7, Errors.permissionDenied()),
      '{"id":7,"error":{"code":103,"message":"permission denied"}}',
    );
    assert.equal(
      encodeError(8, Errors.internal()),
      '{"id":8,"error":{"code":100,"message":"internal server error","temporary":true}}',
    );
    assert.equal(
      encodePubPush('"operator:42"', 18, '{"event":"chatMessageCreated"}'),
      '{"push":{"channel":"operator:42","pub":{"data":{"event":"chatMessageCreated"},"offset":18}}}',
    );
    assert.equal(
      encodeUnsubscribePush('chat:c1', UnsubscribeCodes.server),
      '{"push":{"channel":"chat:c1","unsubscribe":{"code":2000,"reason":"server unsubscribe"}}}',
    );
  });

  it('omits empty fields and writes snake_case', () => {
    const fresh = { epoch: 'e1', offset: 0, recovered: false, wasRecovering: false, publications: [] };
    assert.equal(encodeSubscribeResult(fresh), '{"recoverable":true,"positioned":true,"epoch":"e1"}');
    const recovered = {
      ...fresh,
      offset: 17,
      recovered: true,
      wasRecovering: true,
      publications: [{ offset: 18, data: '{"a":1}' }],
    };
    assert.deepEqual(JSON.parse(encodeSubscribeResult(recovered)), {
      recoverable: true,
      positioned: true,
      epoch: 'e1',
      offset: 17,
      was_recovering: true,
      recovered: true,
      publications: [{ data: { a: 1 }, offset: 18 }],
    });
    const connect = encodeConnectResult('c-1', '1.0.0', 25, new Map([['operator:42', fresh]]));
    assert.deepEqual(JSON.parse(connect), {
      client: 'c-1',
      version: '1.0.0',
      subs: { 'operator:42': { recoverable: true, positioned: true, epoch: 'e1' } },
      ping: 25,
      pong: true,
    });
    assert.equal(encodeConnectResult('c', 'v', 0, new Map()), '{"client":"c","version":"v"}');
    assert.equal(encodeHistoryResult([], 0, ''), '{"publications":[]}');
  });
});
