/**
 * A local fake of Meta's Graph API for the WhatsApp Cloud API, Messenger and Instagram providers:
 * one HTTP server speaking the wire format the providers use, recording every request (method,
 * path, query, Authorization header, JSON or multipart body) for tests to check, refusing a wrong
 * token the way Meta does (401, OAuthException code 190), and answering queued faults (rate limits,
 * expired tokens, blocked users) on the next matching call.
 *
 * It also signs webhooks the way Meta does — `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app
 * secret, raw body)>`, computed here with node:crypto, independently of the server's code.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseParams, readBody, sendJson, type UploadedFile } from './http-util.ts';

export interface GraphRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
  body: Record<string, unknown>;
  files: Record<string, UploadedFile>;
}

interface Fault {
  method: string;
  path: RegExp;
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export const PHONE_NUMBER_ID = '106540352242922';
export const WABA_ID = '102290129340398';
export const PAGE_ID = '1067280970047460';
export const IG_ACCOUNT_ID = '17841405822304914';

/** Meta's answer to an invalid or expired token. */
export const EXPIRED_TOKEN = {
  error: {
    message: 'Error validating access token: Session has expired on Thursday, 03-Dec-26 10:00:00 PST.',
    type: 'OAuthException',
    code: 190,
    error_subcode: 463,
    fbtrace_id: 'AbCdEfGh123',
  },
};

/**
 * A WhatsApp Cloud API webhook as Meta posts it (webhook reference, `messages` field): one entry per
 * change value, each value carrying the phone number's metadata.
 */
export function whatsappWebhook(values: Record<string, unknown>[]) {
  return {
    object: 'whatsapp_business_account',
    entry: values.map((value) => ({
      id: WABA_ID,
      changes: [
        {
          field: 'messages',
          value: {
            messaging_product: 'whatsapp',
            metadata: { display_phone_number: '15550783881', phone_number_id: PHONE_NUMBER_ID },
            ...value,
          },
        },
      ],
    })),
  };
}

/** A Messenger (`page`) or Instagram (`instagram`) webhook: one entry per list of messaging items. */
export function messagingWebhook(
  object: 'page' | 'instagram',
  ownId: string,
  batches: Record<string, unknown>[][],
) {
  return { object, entry: batches.map((messaging) => ({ id: ownId, time: 1458692752478, messaging })) };
}

/** A multipart field carries JSON as text; a JSON body carries it as is. */
const jsonOf = (v: unknown): unknown => (typeof v === 'string' && /^[[{]/.test(v) ? JSON.parse(v) : v);

const MESSAGING_TYPES = ['RESPONSE', 'UPDATE', 'MESSAGE_TAG'];
const SENDER_ACTIONS = ['typing_on', 'typing_off', 'mark_seen'];

/** Why Meta's Send API refuses a body (Messenger and Instagram), or null when it takes it. */
function sendApiRefusal(body: Record<string, unknown>): string | null {
  const recipient = jsonOf(body.recipient) as { id?: unknown } | undefined;
  if (typeof recipient?.id !== 'string') return 'param recipient[id] must be a string';
  if (body.sender_action !== undefined) {
    if (!SENDER_ACTIONS.includes(String(body.sender_action))) return 'param sender_action is invalid';
    if (body.message !== undefined) return 'sender_action cannot be sent with message';
    return null;
  }
  if (!MESSAGING_TYPES.includes(String(body.messaging_type))) return 'param messaging_type is invalid';
  if (body.messaging_type === 'MESSAGE_TAG' && body.tag !== 'HUMAN_AGENT') return 'param tag is required';
  const message = jsonOf(body.message) as { text?: unknown; attachment?: unknown } | undefined;
  if (!message || (typeof message.text !== 'string' && !message.attachment))
    return 'param message is required';
  return null;
}

export class FakeMetaGraphApi {
  readonly requests: GraphRequest[] = [];
  readonly #faults: Fault[] = [];
  /** Bytes of media ids (WhatsApp) and CDN paths (Messenger), by id or path. */
  readonly media = new Map<string, { data: Buffer; mimeType: string }>();
  /** Profiles by PSID / IGSID. */
  readonly profiles = new Map<string, Record<string, unknown>>();
  #sent = 0;
  #uploads = 0;

  private constructor(
    private readonly server: http.Server,
    readonly token: string,
    readonly version: string,
  ) {}

  static async start(opts: { token?: string; version?: string } = {}): Promise<FakeMetaGraphApi> {
    const server = http.createServer();
    const fake = new FakeMetaGraphApi(
      server,
      opts.token ?? 'EAAG-fake-graph-token-0123456789',
      opts.version ?? 'v23.0',
    );
    server.on('request', (req, res) => {
      fake.#handle(req, res).catch((err) => sendJson(res, 500, { error: { message: String(err) } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get apiRoot(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** The recorded requests to a path (without the version prefix) and method. */
  calls(method: string, path: string | RegExp): GraphRequest[] {
    return this.requests.filter(
      (r) => r.method === method && (typeof path === 'string' ? r.path === path : path.test(r.path)),
    );
  }

  reset(): void {
    this.requests.length = 0;
    this.#faults.length = 0;
  }

  /** Answers the next call matching method and path with this status and body. */
  failNext(
    method: string,
    path: RegExp,
    status: number,
    body: unknown,
    headers?: Record<string, string>,
  ): void {
    this.#faults.push({ method, path, status, body, headers });
  }

  /** A CDN URL (no token needed) serving these bytes, like Messenger's attachment URLs. */
  cdnUrl(name: string, data: Buffer, mimeType: string): string {
    this.media.set(`cdn/${name}`, { data, mimeType });
    return `${this.apiRoot}/cdn/${name}?_nc_sig=fake`;
  }

  /** A signed webhook as Meta posts it: the raw body and its headers. */
  static signed(appSecret: string, body: unknown): { raw: string; headers: Record<string, string> } {
    const raw = typeof body === 'string' ? body : JSON.stringify(body);
    const signature = `sha256=${createHmac('sha256', appSecret).update(raw).digest('hex')}`;
    return { raw, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature } };
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<unknown> {
    const url = new URL(req.url ?? '/', this.apiRoot);
    const raw = await readBody(req);
    const { params, files } = await parseParams(url, String(req.headers['content-type'] ?? ''), raw);
    for (const k of url.searchParams.keys()) delete params[k];
    const versioned = url.pathname.startsWith(`/${this.version}/`);
    const path = versioned ? url.pathname.slice(this.version.length + 2) : url.pathname.slice(1);
    const record: GraphRequest = {
      method: req.method ?? 'GET',
      path,
      query: Object.fromEntries(url.searchParams),
      authorization: req.headers.authorization,
      body: params,
      files,
    };
    this.requests.push(record);

    if (path.startsWith('cdn/')) {
      const file = this.media.get(path);
      if (!file) return sendJson(res, 404, { error: { message: 'not found' } });
      res.writeHead(200, { 'content-type': file.mimeType, 'content-length': file.data.length });
      res.end(file.data);
      return;
    }
    if (record.authorization !== `Bearer ${this.token}`) return sendJson(res, 401, EXPIRED_TOKEN);
    const fault = this.#faults.findIndex((f) => f.method === record.method && f.path.test(path));
    if (fault >= 0) {
      const [f] = this.#faults.splice(fault, 1);
      res.setHeader('content-type', 'application/json');
      for (const [k, v] of Object.entries(f!.headers ?? {})) res.setHeader(k, v);
      res.writeHead(f!.status);
      res.end(JSON.stringify(f!.body));
      return;
    }
    if (!versioned && path.startsWith('media-bytes/')) {
      const file = this.media.get(path.slice('media-bytes/'.length));
      if (!file) return sendJson(res, 404, { error: { message: 'media not found', code: 100 } });
      res.writeHead(200, { 'content-type': file.mimeType, 'content-length': file.data.length });
      res.end(file.data);
      return;
    }
    if (!versioned)
      return sendJson(res, 404, { error: { message: `unknown path ${url.pathname}`, code: 803 } });
    return this.#graph(record, res);
  }

  #graph(r: GraphRequest, res: http.ServerResponse): unknown {
    const [id, edge] = r.path.split('/');
    if (edge === 'subscribed_apps') return sendJson(res, 200, { success: true });
    if (edge === 'media' && r.method === 'POST') {
      const file = r.files.file;
      if (!file || r.body.messaging_product !== 'whatsapp') {
        return sendJson(res, 400, { error: { message: '(#100) Param file is required', code: 100 } });
      }
      const mediaId = `${9000000000 + ++this.#uploads}`;
      this.media.set(mediaId, { data: file.data, mimeType: String(r.body.type ?? file.type) });
      return sendJson(res, 200, { id: mediaId });
    }
    if (edge === 'messages' && r.method === 'POST') {
      if (id === PHONE_NUMBER_ID) {
        if (r.body.status !== undefined) {
          // Mark as read: {"messaging_product":"whatsapp","status":"read","message_id"}.
          const ok =
            r.body.messaging_product === 'whatsapp' &&
            r.body.status === 'read' &&
            typeof r.body.message_id === 'string';
          if (!ok) return sendJson(res, 400, { error: { message: '(#100) Invalid parameter', code: 100 } });
          return sendJson(res, 200, { success: true });
        }
        if (r.body.messaging_product !== 'whatsapp' || typeof r.body.to !== 'string') {
          return sendJson(res, 400, { error: { message: '(#100) Invalid parameter', code: 100 } });
        }
        return sendJson(res, 200, {
          messaging_product: 'whatsapp',
          contacts: [{ input: r.body.to, wa_id: r.body.to }],
          messages: [{ id: `wamid.FAKE${++this.#sent}` }],
        });
      }
      const refused = sendApiRefusal(r.body);
      if (refused) return sendJson(res, 400, { error: { message: `(#100) ${refused}`, code: 100 } });
      const recipient = jsonOf(r.body.recipient) as { id: string };
      if (r.body.sender_action) return sendJson(res, 200, { recipient_id: recipient.id });
      return sendJson(res, 200, { recipient_id: recipient.id, message_id: `m_FAKE${++this.#sent}` });
    }
    if (r.method === 'GET' && !edge) {
      if (id === PHONE_NUMBER_ID) {
        return sendJson(res, 200, {
          display_phone_number: '15550783881',
          verified_name: 'Omniline Test',
          id,
        });
      }
      if (id === PAGE_ID) {
        return sendJson(res, 200, {
          id,
          name: 'Omniline Page',
          instagram_business_account: { id: IG_ACCOUNT_ID },
        });
      }
      const profile = this.profiles.get(id!);
      if (profile) return sendJson(res, 200, { id, ...profile });
      const media = this.media.get(id!);
      if (media) {
        return sendJson(res, 200, {
          messaging_product: 'whatsapp',
          url: `${this.apiRoot}/media-bytes/${id}`,
          mime_type: media.mimeType,
          sha256: 'fake',
          file_size: media.data.length,
          id,
        });
      }
      return sendJson(res, 400, {
        error: {
          message: `Unsupported get request. Object with ID '${id}' does not exist`,
          code: 100,
          error_subcode: 33,
        },
      });
    }
    return sendJson(res, 400, { error: { message: `unknown ${r.method} ${r.path}`, code: 100 } });
  }
}
