/**
 * Stand-ins for providers Omniline does not have yet (telegram user accounts, WhatsApp, inbox, …):
 * a channel needs a provider for its type, so tests of type-specific rules (account kinds, spam,
 * reconnect, source uniqueness) register these. They accept any settings and "send" everything.
 */
import { randomUUID } from 'node:crypto';
import { CHANNEL_TYPES } from '../../src/domain/channel/channel.ts';
import type { OmnilinePlugin } from '../../src/plugins.ts';
import type { ChannelProvider } from '../../src/providers/provider.ts';
import { builtinProviders } from '../../src/providers/registry.ts';

export function stubProvider(type: string): ChannelProvider {
  return {
    name: `stub-${type}`,
    channelType: type,
    publicSettings: [],
    idempotentSend: false,
    validateSettings: (settings) => settings,
    send: async () => ({ externalId: randomUUID() }),
  };
}

/**
 * A plugin with a stub provider for each type: by default every LineChannelType but the api and
 * telegramBot ones, so a test of type rules can create a WhatsApp or Viber channel without
 * credentials (a plugin's provider is its type's default; real ones are chosen by settings.provider).
 */
export function stubProviders(types: readonly string[] = STUBBED_TYPES): OmnilinePlugin {
  return { providers: types.map(stubProvider) };
}

const STUBBED_TYPES: readonly string[] = CHANNEL_TYPES.filter(
  (type) => type !== 'api' && type !== 'telegramBot',
);

/** The LineChannelTypes no built-in provider serves. */
export const PROVIDERLESS_TYPES: readonly string[] = CHANNEL_TYPES.filter(
  (type) => !builtinProviders().some((p) => p.channelType === type),
);
