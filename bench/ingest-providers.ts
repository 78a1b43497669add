/**
 * The providers `bench/ingest.ts --provider <name>` can load: each entry starts what its channel
 * needs (the fake of its messenger's API, for `register`), creates the channel on the running server
 * and makes fresh webhooks signed the way that messenger signs them, with the signing code of that
 * messenger's fake (test/fakes/). Adding a provider is one line in INGEST_PROVIDERS (its adapter in
 * its own bench/ingest-<messenger>.ts). `--provider all` runs every one of them against the api channel.
 */
import type { ServerProcess } from '../test/helpers/server-process.ts';
import { instagramIngest, messengerIngest, whatsappCloudIngest } from './ingest-meta.ts';
import { twilioIngest } from './ingest-twilio.ts';
import { viberIngest } from './ingest-viber.ts';
import { createIngestChannel } from './lib/ingest-channel.ts';
import { type Webhook, WebhookFactory } from './lib/webhooks.ts';

/** A webhook and the messenger message ids it carries (to count lost and duplicated messages). */
export interface IngestWebhook extends Webhook {
  ids: string[];
}

export interface IngestChannel {
  channelId: string;
  /** The webhook path: `/webhooks/<provider>/<channelId>`. */
  path: string;
  /** Fresh webhooks (unique message ids under `prefix`) spread round-robin over `clients` clients. */
  webhooks(prefix: string, clients: number): () => IngestWebhook;
  /** Stops what setup started. */
  close(): Promise<void>;
}

export interface IngestSetup {
  server: ServerProcess;
  /** An admin's access token. */
  token: string;
  /** A line to create the channel on. */
  lineId: string;
}

export type IngestProvider = (setup: IngestSetup) => Promise<IngestChannel>;

const API_SECRET = 'ingest-bench-api-secret-0123456789';

/** The generic api channel: the reference every other provider is compared with. */
export const apiIngest: IngestProvider = async (setup) => {
  const channelId = await createIngestChannel(setup, 'api', 'Ingest bench api', { secret: API_SECRET });
  return {
    channelId,
    path: `/webhooks/api/${channelId}`,
    webhooks(prefix, clients) {
      const factory = new WebhookFactory(API_SECRET, clients, prefix);
      let n = 0;
      return () => ({ ...factory.next(), ids: [`${prefix}-${n++}`] });
    },
    close: async () => {},
  };
};

export const INGEST_PROVIDERS: Record<string, IngestProvider> = {
  api: apiIngest,
  whatsappCloud: whatsappCloudIngest,
  twilio: twilioIngest,
  messenger: messengerIngest,
  instagram: instagramIngest,
  viber: viberIngest,
};
