/**
 * Sending through Twilio: `POST Messages.json` with `To`, `From` (or `MessagingServiceSid`), `Body`,
 * `MediaUrl` and `StatusCallback`. Media go by URL: Twilio fetches our signed, expiring download link,
 * so it must be absolute (OMNILINE_PUBLIC_URL). WhatsApp takes one medium per message (the text
 * rides with the first); SMS/MMS up to ten.
 */
import type { OutboundMessage } from '../provider.ts';
import { ProviderError } from '../provider.ts';
import { callTwilio, type TwilioApi } from './twilio-api.client.ts';
import { MAX_MEDIA } from './twilio-webhook.converter.ts';

const MB = 1024 * 1024;
/** Twilio's media caps: 16 MB on WhatsApp, 5 MB per MMS. */
export const MEDIA_LIMIT = { whatsapp: 16 * MB, mms: 5 * MB } as const;

const MESSAGING_SERVICE = /^MG[0-9a-fA-F]{32}$/;

/** The recipient address: `whatsapp:+E164` on a WhatsApp channel, `+E164` for SMS. */
export function recipientAddress(api: TwilioApi, externalId: string): string {
  const number = externalId.replace(/^whatsapp:/i, '');
  return api.settings.whatsapp ? `whatsapp:${number}` : number;
}

function mediaUrls(api: TwilioApi, message: OutboundMessage): string[] {
  const limit = api.settings.whatsapp ? MEDIA_LIMIT.whatsapp : MEDIA_LIMIT.mms;
  if (message.attachments.length > MAX_MEDIA) {
    throw new ProviderError('TOO_MANY_FILES', `Twilio takes at most ${MAX_MEDIA} files per message`, {
      retryable: false,
    });
  }
  return message.attachments.map((a) => {
    if (a.size > limit) {
      throw new ProviderError(
        'FILE_TOO_LARGE',
        `${a.name ?? a.fileId} is larger than Twilio's ${limit / MB} MB limit`,
        {
          retryable: false,
        },
      );
    }
    if (!/^https?:\/\//i.test(a.url)) {
      throw new ProviderError(
        'PUBLIC_URL_REQUIRED',
        'Twilio fetches files by URL: configure OMNILINE_PUBLIC_URL so it can reach them',
        { retryable: false },
      );
    }
    return a.url;
  });
}

async function post(api: TwilioApi, form: URLSearchParams): Promise<string> {
  const answer = await callTwilio(api, 'Messages.json', '/Messages.json', form);
  if (typeof answer.sid !== 'string' || answer.sid === '') {
    throw new ProviderError('BAD_RESPONSE', 'Twilio answered a send without a message sid', {
      retryable: false,
    });
  }
  return answer.sid;
}

/** Sends one of our messages; returns the first Twilio message sid (the one status callbacks name). */
export async function sendTwilioMessage(
  api: TwilioApi,
  message: OutboundMessage,
  statusCallback: string | null,
): Promise<{ externalId: string }> {
  const media = mediaUrls(api, message);
  const base = (): URLSearchParams => {
    const form = new URLSearchParams();
    form.set('To', recipientAddress(api, message.to.externalId));
    if (MESSAGING_SERVICE.test(api.settings.from)) form.set('MessagingServiceSid', api.settings.from);
    else form.set('From', api.settings.from);
    if (statusCallback) form.set('StatusCallback', statusCallback);
    return form;
  };
  const groups = api.settings.whatsapp ? (media.length ? media.map((m) => [m]) : [[]]) : [media];
  let first: string | null = null;
  for (const [i, group] of groups.entries()) {
    const form = base();
    if (i === 0 && message.text) form.set('Body', message.text);
    for (const url of group) form.append('MediaUrl', url);
    const sid = await post(api, form);
    first ??= sid;
  }
  return { externalId: first! };
}
