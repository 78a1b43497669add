/** Binds providers to channels: which provider serves a channel, and the context it runs with. */
import type { ChannelRow } from '../domain/channel/channel.repository.ts';
import type {
  ChannelProvider,
  ExternalUser,
  ProviderChannel,
  ProviderContext,
} from '../providers/provider.ts';
import type { ProviderRegistry } from '../providers/registry.ts';

export interface ProviderHostOptions {
  publicUrl: string | null;
  fetch?: typeof fetch;
  log?: ProviderContext['log'];
}

const PROFILE_TIMEOUT_MS = 5000;

const silent: ProviderContext['log'] = { info() {}, warn() {} };

export class ProviderHost {
  /** Decrypted settings per row object: a cached row (the webhook path) is decrypted once. */
  readonly #settings = new WeakMap<ChannelRow, Record<string, unknown>>();

  constructor(
    readonly registry: ProviderRegistry,
    private readonly settingsOf: (row: ChannelRow) => Record<string, unknown>,
    private readonly opts: ProviderHostOptions,
  ) {}

  get log(): ProviderContext['log'] {
    return this.opts.log ?? silent;
  }

  providerFor(channel: Pick<ChannelRow, 'type'>): ChannelProvider | undefined {
    return this.registry.forType(channel.type);
  }

  providerChannel(row: ChannelRow, settings = this.#settingsOf(row)): ProviderChannel {
    return { id: row.id, name: row.name, type: row.type, source: row.source, settings };
  }

  #settingsOf(row: ChannelRow): Record<string, unknown> {
    let settings = this.#settings.get(row);
    if (!settings) {
      settings = this.settingsOf(row);
      this.#settings.set(row, settings);
    }
    return settings;
  }

  /** The provider's profile lookup for a channel (bounded in time), if it has one. */
  profileLookup(row: ChannelRow): ((externalUserId: string) => Promise<ExternalUser | null>) | undefined {
    const provider = this.providerFor(row);
    if (!provider?.fetchProfile) return undefined;
    return (id) =>
      Promise.race([
        provider.fetchProfile!(this.context(row), id),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), PROFILE_TIMEOUT_MS).unref()),
      ]);
  }

  context(row: ChannelRow, settings?: Record<string, unknown>): ProviderContext {
    return {
      channel: this.providerChannel(row, settings),
      publicUrl: this.opts.publicUrl,
      fetch: this.opts.fetch ?? fetch,
      log: this.opts.log ?? silent,
    };
  }
}
