/**
 * Example plugin: the vendor guide's "Test" messenger as an Omniline channel provider.
 *
 * Load it with `OMNILINE_PLUGINS=./examples/test-provider/index.ts` (a plugin module exports
 * `providers: ChannelProvider[]`). The guide's nine steps of "Adding a new channel provider", here:
 *
 *   1. Register the provider (the "Channel provider" lookup) → `providers` below; the registry adds
 *      the provider's name and its channel type "test" to the types the channels API accepts.
 *   2. Store its settings (the `[TestMsgSettings]` table) → settings.ts: `validateSettings` checks
 *      {"token", "apiRoot"}; Omniline seals them in the channel row, one record per channel.
 *   3. Register the channel (Name, Provider, Settings, Source, IsActive, Queue) →
 *      `POST /api/v1/channels {"lineId", "name", "type": "test", "settings"}`; `register` checks the
 *      token with `GET {apiRoot}/me` and returns the page id as Source. The line is the queue; the
 *      channel is stored `active`. A refused token answers 422 CHANNEL_REGISTRATION_FAILED.
 *   4. An anonymous webhook (the guide's `receive` endpoint) → `POST /webhooks/test/<channelId>`,
 *      served by the core; `parseWebhook` checks `X-Test-Token` first (401, nothing stored).
 *   5. Convert the message to the unified message → converter.ts `convertIncoming`. The core then
 *      does the guide's InternalReceive: de-duplicates, finds or creates the client (and contact),
 *      opens a Waiting session or appends to the open one, stores the message.
 *   6. IProfileDataProvider → `fetchProfile` (`GET {apiRoot}/<profileId>` → first/last name, photo).
 *      When it fails, the client and contact are named "New contact <channel name>-<sender id>".
 *   7. IAttachmentsLoadWorker → `loadAttachment` opens the attachment's uploadUrl; the core's job
 *      worker streams it into the file store (`GET /api/v1/files/<id>`).
 *   8. IOutcomeMessageWorker → `send` (`POST {apiRoot}/messages`; files go to `POST {apiRoot}/files`
 *      first). The outbox worker calls it, retries what is retryable and records `sent` with the
 *      messenger's message id.
 *   9. Bind them all to the provider's name → the ChannelProvider object itself: every method hangs
 *      off `name: "test"`, the key the registry, the webhook route and the workers look it up by.
 *
 * Wire formats: converter.ts (webhook) and api-client.ts (API calls). A stand-in for the messenger,
 * used by the test: fake-messenger.ts.
 */
import { testProvider } from './provider.ts';

export { TEST_PROVIDER, testProvider } from './provider.ts';

export const providers = [testProvider];
