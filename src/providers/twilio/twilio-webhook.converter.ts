/**
 * Twilio's form-encoded webhooks as unified events
 * (https://www.twilio.com/docs/messaging/guides/webhook-request):
 * - an incoming message: `MessageSid, AccountSid, From, To, Body, NumMedia, MediaUrl<N>,
 *   MediaContentType<N>`, on WhatsApp also `ProfileName, WaId`, `Latitude/Longitude/Address/Label`,
 *   `ButtonText` (a quick-reply tap);
 * - a status callback (our `StatusCallback`): `MessageSid, MessageStatus, ErrorCode, To`.
 *
 * The customer is their phone number in E.164 (`whatsapp:+1555…` and `+1555…` are one client).
 */
import { InvalidField } from '../../errors.ts';
import { messageTypeOf } from '../api/api.provider.ts';
import { toE164 } from '../phone.ts';
import type { ExternalUser, InboundAttachment, InboundEvent } from '../provider.ts';
import { TWILIO_ERRORS } from './twilio-api.client.ts';

/** Twilio's cap on media per message (MediaUrl0 … MediaUrl9). */
export const MAX_MEDIA = 10;

const MESSAGE_SID = /^(SM|MM|SMS?|MG)?[0-9a-zA-Z]{2,64}$/;

/** Parses a form body into its parameters, in order (repeated names kept). */
export function formParams(rawBody: Buffer): [string, string][] {
  return [...new URLSearchParams(rawBody.toString('utf8'))];
}

function required(params: Map<string, string>, name: string): string {
  const v = params.get(name);
  if (v === undefined || v === '') throw new InvalidField(`body.${name}`, 'is required', 'INVALID_PAYLOAD');
  return v;
}

/** The customer's id: their number in E.164, or the address as sent when it is none (e.g. `messenger:…`). */
export function customerId(address: string): string {
  return toE164(address) ?? address;
}

function userOf(params: Map<string, string>): ExternalUser {
  const from = required(params, 'From');
  const e164 = toE164(params.get('WaId') ? `+${params.get('WaId')}` : from) ?? toE164(from);
  const name = (params.get('ProfileName') ?? '').trim();
  const [firstName, ...rest] = name ? name.split(/\s+/) : [];
  return {
    externalId: e164 ?? from,
    phone: e164,
    firstName: firstName ?? null,
    lastName: rest.join(' ') || null,
  };
}

function attachmentsOf(params: Map<string, string>): InboundAttachment[] {
  const n = Number(params.get('NumMedia') ?? '0');
  if (!Number.isInteger(n) || n < 0 || n > MAX_MEDIA)
    throw new InvalidField('body.NumMedia', `must be an integer from 0 to ${MAX_MEDIA}`, 'INVALID_PAYLOAD');
  const out: InboundAttachment[] = [];
  for (let i = 0; i < n; i++) {
    const url = required(params, `MediaUrl${i}`);
    if (!/^https?:\/\//i.test(url))
      throw new InvalidField(`body.MediaUrl${i}`, 'must be an http(s) URL', 'INVALID_PAYLOAD');
    out.push({ ref: url, mimeType: params.get(`MediaContentType${i}`) ?? null });
  }
  return out;
}

const DELIVERY: Record<string, 'delivered' | 'read' | 'failed'> = {
  delivered: 'delivered',
  read: 'read',
  failed: 'failed',
  undelivered: 'failed',
};

/** The events one webhook carries (a message, or a status of one of ours). */
export function twilioEvents(list: [string, string][], now: Date): InboundEvent[] {
  const params = new Map(list);
  const sid = required(params, 'MessageSid');
  if (!MESSAGE_SID.test(sid))
    throw new InvalidField('body.MessageSid', 'is not a Twilio SID', 'INVALID_PAYLOAD');
  const status = params.get('MessageStatus');
  if (status !== undefined && status !== 'received') {
    const mapped = DELIVERY[status];
    if (!mapped) return [{ kind: 'unsupported', description: `status ${status}`, timestamp: now }];
    const code = params.get('ErrorCode');
    const events: InboundEvent[] = [
      {
        kind: 'delivery',
        externalMessageId: sid,
        status: mapped,
        error:
          mapped === 'failed'
            ? `Twilio error ${code ?? 'unknown'}: ${params.get('ErrorMessage') ?? status}`
            : null,
        timestamp: now,
      },
    ];
    // The recipient replied STOP: the carrier refuses our messages to them from now on.
    const to = params.get('To');
    if (code === String(TWILIO_ERRORS.unsubscribedRecipient) && to) {
      events.push({
        kind: 'closed',
        from: { externalId: customerId(to) },
        reason: 'the recipient unsubscribed (replied STOP)',
        unreachable: true,
        timestamp: now,
      });
    }
    return events;
  }
  const from = userOf(params);
  const attachments = attachmentsOf(params);
  const lat = params.get('Latitude');
  const lon = params.get('Longitude');
  if (attachments.length === 0 && lat && lon) {
    const place = [params.get('Label'), params.get('Address')].filter(Boolean).join(', ');
    return [
      {
        kind: 'message',
        externalMessageId: sid,
        from,
        type: 'location',
        text: place ? `${lat},${lon} ${place}` : `${lat},${lon}`,
        timestamp: now,
      },
    ];
  }
  const body = params.get('Body') || params.get('ButtonText') || null;
  return [
    {
      kind: 'message',
      externalMessageId: sid,
      from,
      type: messageTypeOf(attachments),
      text: body,
      attachments,
      timestamp: now,
    },
  ];
}
