/**
 * A local Viber REST bot API for tests: `POST /pa/<method>` with `X-Viber-Auth-Token` checked
 * (status 2 otherwise), `get_account_info`, `set_webhook` (which, like Viber, calls the URL with a
 * signed `webhook` check first and fails with status 1 unless it answers 200), `send_message`
 * (message tokens beyond 2^53, written as bare JSON integers), `get_user_details`. `failNext` makes the
 * next sends answer a status ≠ 0. Callbacks are signed with X-Viber-Content-Signature (hex HMAC-SHA256).
 */
import type { ServerResponse } from 'node:http';
import { signViberBody } from '../../src/providers/viber/viber.provider.ts';
import { MessengerFake, type RecordedRequest, reply } from './messenger-fake.ts';

export const VIBER_TOKEN = '445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9';

export class FakeViberApi extends MessengerFake {
  authToken = VIBER_TOKEN;
  webhookUrl: string | null = null;
  readonly sent: Record<string, unknown>[] = [];
  readonly users = new Map<string, { id: string; name: string; avatar: string }>();
  #failures: { status: number; message: string }[] = [];
  /** Message tokens handed out: 64-bit, beyond Number.MAX_SAFE_INTEGER. */
  #next = 5741311803571721087n;

  static async start(): Promise<FakeViberApi> {
    const fake = new FakeViberApi();
    await fake.listen();
    return fake;
  }

  failNext(status: number, message: string, times = 1): void {
    for (let i = 0; i < times; i++) this.#failures.push({ status, message });
  }

  nextToken(): string {
    this.#next += 1n;
    return this.#next.toString();
  }

  protected async handle(req: RecordedRequest, res: ServerResponse): Promise<unknown> {
    const answer = (body: Record<string, unknown>, token?: string) => {
      let text = JSON.stringify({ status_message: 'ok', ...body });
      // A bare integer beyond 2^53, as Viber writes it.
      if (token) text = `${text.slice(0, -1)},"message_token":${token}}`;
      reply(res, 200, text);
    };
    if (req.headers['x-viber-auth-token'] !== this.authToken)
      return answer({ status: 2, status_message: 'invalidAuthToken' });
    const body = JSON.parse(req.body.toString('utf8') || '{}') as Record<string, any>;
    switch (req.path) {
      case '/pa/get_account_info':
        return answer({ status: 0, id: 'pa:75346594275468546724', name: 'Test bot', uri: 'testbot' });
      case '/pa/set_webhook': {
        if (body.url === '') {
          this.webhookUrl = null;
          return answer({ status: 0 });
        }
        const check = await this.callback(body.url, {
          event: 'webhook',
          timestamp: Date.now(),
          chat_hostname: 'SN-376_',
          message_token: this.nextToken(),
        }).catch(() => ({ status: 0 }));
        if (check.status !== 200) return answer({ status: 1, status_message: 'invalidUrl' });
        this.webhookUrl = body.url;
        return answer({ status: 0, event_types: body.event_types });
      }
      case '/pa/send_message': {
        const failure = this.#failures.shift();
        if (failure) return answer({ status: failure.status, status_message: failure.message });
        if (!body.receiver || !body.type || !body.sender?.name)
          return answer({ status: 4, status_message: 'missingData' });
        this.sent.push(body);
        return answer({ status: 0, chat_hostname: 'SN-CHAT-05_', billing_status: 1 }, this.nextToken());
      }
      case '/pa/get_user_details': {
        const user = this.users.get(body.id);
        if (!user) return answer({ status: 5, status_message: 'receiverNotRegistered' });
        return answer(
          { status: 0, user: { ...user, country: 'UA', language: 'en', api_version: 10 } },
          this.nextToken(),
        );
      }
      default:
        return answer({ status: 3, status_message: 'badData' });
    }
  }

  /** Sends a callback to `url` (the raw text as given, so tokens stay bare integers), signed as Viber signs it. */
  callback(url: string, body: Record<string, unknown> | string, opts: { signature?: string } = {}) {
    const signed = this.signed(body, opts);
    return this.deliver(url, signed.body, signed.headers);
  }

  /** A callback as Viber posts it: the raw text and its headers (X-Viber-Content-Signature). */
  signed(body: Record<string, unknown> | string, opts: { signature?: string } = {}) {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return {
      body: text,
      headers: {
        'content-type': 'application/json',
        'x-viber-content-signature': opts.signature ?? signViberBody(this.authToken, text),
      },
    };
  }

  /** A `message` callback with a bare 64-bit token, as Viber's documentation shows it. */
  message(senderId: string, message: Record<string, unknown>, token = this.nextToken()): string {
    return `{"event":"message","timestamp":1457764197627,"chat_hostname":"SN-376_","message_token":${token},"sender":{"id":"${senderId}","name":"John McClane","avatar":"${this.root}/avatar.jpg","country":"UK","language":"en","api_version":1},"message":${JSON.stringify(message)},"silent":false}`;
  }
}
