/**
 * The viber provider of `bench/ingest.ts --provider`: a bot registered against the local Viber fake
 * (test/fakes/viber-api.ts; `set_webhook` makes it call the server's public URL, which the bench
 * maps to the server), fed `message` callbacks with bare 64-bit tokens, signed by the fake
 * (X-Viber-Content-Signature: hex HMAC-SHA256 of the raw body with the auth token).
 */
import { fetchDeliver } from '../test/fakes/messenger-fake.ts';
import { FakeViberApi } from '../test/fakes/viber-api.ts';
import type { IngestProvider } from './ingest-providers.ts';
import { createIngestChannel, localUrl, roundRobin } from './lib/ingest-channel.ts';

export const viberIngest: IngestProvider = async (setup) => {
  const fake = await FakeViberApi.start();
  fake.deliver = (url, body, headers) => fetchDeliver(localUrl(setup, url), body, headers);
  const channelId = await createIngestChannel(setup, 'viberbot', 'Ingest bench viber', {
    authToken: fake.authToken,
    senderName: 'Omniline',
    apiRoot: fake.root,
  });
  return {
    channelId,
    path: `/webhooks/viber/${channelId}`,
    webhooks(_prefix, clients) {
      const next = roundRobin(clients);
      return () => {
        const { n, c } = next();
        const token = fake.nextToken();
        const text = fake.message(
          `bench${String(c).padStart(6, '0')}AAAAAAAAAAAAA=`,
          {
            type: 'text',
            text: `message ${n} from client ${c}`,
          },
          token,
        );
        return { ...fake.signed(text), ids: [token] };
      };
    },
    close: () => fake.close(),
  };
};
