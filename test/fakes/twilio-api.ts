/**
 * A local Twilio REST API for tests: `GET /2010-04-01/Accounts/<sid>.json`, `POST …/Messages.json`
 * (form-encoded, Basic auth checked; answers 201 with a new `SM…` sid), media at
 * `…/Messages/<MM>/Media/<ME>` behind Basic auth, and Twilio's error shape
 * `{"code","message","more_info","status"}`. `failNext` makes the next sends fail (429 / 20429,
 * 401 / 20003, 400 / 21610…). Webhooks it sends are form-encoded and signed with X-Twilio-Signature
 * by the real algorithm over the exact URL called.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { twilioSignature } from '../../src/providers/twilio/twilio-signature.ts';
import { MessengerFake, type RecordedRequest, reply } from './messenger-fake.ts';

export const TWILIO_SID = `AC${'a1'.repeat(16)}`;
export const TWILIO_TOKEN = 'b2'.repeat(16);

export class FakeTwilioApi extends MessengerFake {
  accountSid = TWILIO_SID;
  authToken = TWILIO_TOKEN;
  readonly media = new Map<string, { type: string; data: Buffer }>();
  readonly sent: URLSearchParams[] = [];
  #failures: { status: number; code: number; message: string }[] = [];

  static async start(): Promise<FakeTwilioApi> {
    const fake = new FakeTwilioApi();
    await fake.listen();
    return fake;
  }

  get base(): string {
    return `/2010-04-01/Accounts/${this.accountSid}`;
  }

  failNext(status: number, code: number, message: string, times = 1): void {
    for (let i = 0; i < times; i++) this.#failures.push({ status, code, message });
  }

  /** Stores a medium and gives its MediaUrl as Twilio would. */
  addMedia(type: string, data: Buffer): string {
    const path = `${this.base}/Messages/MM${randomBytes(16).toString('hex')}/Media/ME${randomBytes(16).toString('hex')}`;
    this.media.set(path, { type, data });
    return `${this.root}${path}`;
  }

  #error(res: ServerResponse, status: number, code: number, message: string): void {
    reply(
      res,
      status,
      JSON.stringify({ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }),
    );
  }

  protected handle(req: RecordedRequest, res: ServerResponse): unknown {
    const expected = `Basic ${Buffer.from(`${this.accountSid}:${this.authToken}`).toString('base64')}`;
    const path = req.path.split('?')[0]!;
    if (req.headers.authorization !== expected) return this.#error(res, 401, 20003, 'Authenticate');
    const medium = this.media.get(path);
    if (req.method === 'GET' && medium) {
      res
        .writeHead(200, { 'content-type': medium.type, 'content-length': medium.data.length })
        .end(medium.data);
      return;
    }
    if (req.method === 'GET' && path === `${this.base}.json`) {
      reply(
        res,
        200,
        JSON.stringify({ sid: this.accountSid, friendly_name: 'Test account', status: 'active' }),
      );
      return;
    }
    if (req.method === 'POST' && path === `${this.base}/Messages.json`) {
      if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded'))
        return this.#error(res, 400, 20001, 'form body expected');
      const failure = this.#failures.shift();
      if (failure) return this.#error(res, failure.status, failure.code, failure.message);
      const form = new URLSearchParams(req.body.toString('utf8'));
      if (!form.get('To') || (!form.get('From') && !form.get('MessagingServiceSid')))
        return this.#error(res, 400, 21604, "A 'To' phone number is required.");
      if (!form.get('Body') && !form.get('MediaUrl'))
        return this.#error(res, 400, 21602, 'Message body is required.');
      this.sent.push(form);
      const sid = `SM${randomBytes(16).toString('hex')}`;
      reply(
        res,
        201,
        JSON.stringify({
          sid,
          status: 'queued',
          to: form.get('To'),
          from: form.get('From'),
          body: form.get('Body'),
        }),
      );
      return;
    }
    this.#error(res, 404, 20404, 'The requested resource was not found');
  }

  /** Sends a form-encoded webhook to `url`, signed as Twilio signs it. */
  webhook(url: string, params: Record<string, string>, opts: { signature?: string } = {}) {
    const { body, headers } = this.signed(url, params, opts);
    return this.deliver(url, body, headers);
  }

  /** A webhook to `url` as Twilio posts it: the form body and its headers (X-Twilio-Signature over the URL). */
  signed(url: string, params: Record<string, string>, opts: { signature?: string } = {}) {
    const entries = Object.entries(params);
    const signature = opts.signature ?? twilioSignature(this.authToken, url, entries);
    return {
      body: new URLSearchParams(entries).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    };
  }

  /** An incoming WhatsApp message, as Twilio's webhook carries it. */
  inbound(from: string, body: string, extra: Record<string, string> = {}): Record<string, string> {
    const sid = `SM${randomBytes(16).toString('hex')}`;
    return {
      SmsMessageSid: sid,
      NumMedia: '0',
      ProfileName: 'Sheena Nelson',
      SmsSid: sid,
      WaId: from.replace(/\D/g, ''),
      SmsStatus: 'received',
      Body: body,
      To: 'whatsapp:+14155238886',
      NumSegments: '1',
      ReferralNumMedia: '0',
      MessageSid: sid,
      AccountSid: this.accountSid,
      From: from,
      ApiVersion: '2010-04-01',
      ...extra,
    };
  }
}
