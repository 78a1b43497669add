/**
 * What the provider adapters of `bench/ingest.ts --provider` share: the public URL the bench server
 * is known by (messengers sign or call the URL they were given, here a name a local "proxy" maps
 * to the server's port), the environment that lets the server reach the local fakes, and channel
 * creation through the API.
 */
import type { IngestSetup } from '../ingest-providers.ts';

/** OMNILINE_PUBLIC_URL of the bench server: the base of every webhook URL a messenger signs. */
export const INGEST_PUBLIC_URL = 'http://ingest-bench.omniline.test';

/** The bench server's environment: its public URL, and the local fakes it may call. */
export const INGEST_SERVER_ENV = {
  OMNILINE_PUBLIC_URL: INGEST_PUBLIC_URL,
  OMNILINE_FETCH_ALLOW_PRIVATE: '127.0.0.1',
};

/** The server's own address for a public URL (the proxy's rewrite). */
export function localUrl(setup: IngestSetup, url: string): string {
  return url.replace(INGEST_PUBLIC_URL, `http://127.0.0.1:${setup.server.port}`);
}

/** Creates a channel of `type` with `settings` on the setup's line; its id. */
export async function createIngestChannel(
  setup: IngestSetup,
  type: string,
  name: string,
  settings: Record<string, unknown>,
): Promise<string> {
  const channel = await setup.server.request('POST', '/api/v1/channels', {
    token: setup.token,
    body: { lineId: setup.lineId, name, type, settings },
  });
  if (channel.status !== 201) {
    throw new Error(
      `creating the ${name} channel answered ${channel.status}: ${JSON.stringify(channel.body)}`,
    );
  }
  return channel.body.id;
}

/** Client number `c` of `clients`, and a running message number, for webhook builders. */
export function roundRobin(clients: number): () => { n: number; c: number } {
  let n = 0;
  return () => {
    const i = n++;
    return { n: i, c: i % clients };
  };
}
