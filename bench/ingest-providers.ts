/**
 * The providers `bench/ingest.ts --provider <name>` can load: each entry starts what its channel
 * needs (the fake of its messenger's API, for `register`), creates the channel on the running server
 * and makes fresh webhooks signed the way that messenger signs them. Adding a provider is one line
 * in INGEST_PROVIDERS (its adapter in its own bench/ingest-<name>.ts).
 */
import type { ServerProcess } from '../test/helpers/server-process.ts';
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
export const apiIngest: IngestProvider = async ({ server, token, lineId }) => {
  const channel = await server.request('POST', '/api/v1/channels', {
    token,
    body: { lineId, name: 'Ingest bench api', type: 'api', settings: { secret: API_SECRET } },
  });
  if (channel.status !== 201) throw new Error(`creating the api channel answered ${channel.status}`);
  const channelId: string = channel.body.id;
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
};
