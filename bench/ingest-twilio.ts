/**
 * The twilio provider of `bench/ingest.ts --provider`: a WhatsApp sender registered against the
 * local Twilio fake (test/fakes/twilio-api.ts), fed Twilio's form-encoded inbound webhooks signed by
 * the fake (X-Twilio-Signature: HMAC-SHA1 over the public URL Twilio calls and the sorted params).
 */
import { FakeTwilioApi } from '../test/fakes/twilio-api.ts';
import type { IngestProvider } from './ingest-providers.ts';
import { createIngestChannel, INGEST_PUBLIC_URL, roundRobin } from './lib/ingest-channel.ts';

export const twilioIngest: IngestProvider = async (setup) => {
  const fake = await FakeTwilioApi.start();
  const channelId = await createIngestChannel(setup, 'whatsapp', 'Ingest bench twilio', {
    provider: 'twilio',
    accountSid: fake.accountSid,
    authToken: fake.authToken,
    from: 'whatsapp:+14155238886',
    apiRoot: fake.root,
  });
  const path = `/webhooks/twilio/${channelId}`;
  return {
    channelId,
    path,
    webhooks(_prefix, clients) {
      const next = roundRobin(clients);
      return () => {
        const { n, c } = next();
        // A unique MessageSid per message (random, as Twilio's).
        const params = fake.inbound(
          `whatsapp:+1555${String(c).padStart(7, '0')}`,
          `message ${n} from client ${c}`,
        );
        return { ...fake.signed(`${INGEST_PUBLIC_URL}${path}`, params), ids: [params.MessageSid!] };
      };
    },
    close: () => fake.close(),
  };
};
