/** Binds providers to channels: which provider serves a channel, and the context it runs with. */
import type { ChannelRow } from '../domain/channel/channel.repository.ts';
import { configuredOrigins, guardedFetch } from '../providers/fetch-guard.ts';
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
  /** Hosts a provider may fetch from although they are private (OMNILINE_FETCH_ALLOW_PRIVATE). */
  allowPrivate?: readonly string[];
  log?: ProviderContext['log'];
}

const PROFILE_TIMEOUT_MS = 5000;

/** Publishes to a client's own realtime stream (the live gateway's `client:<channel>:<id>`). */
export type ClientPusher = (channelId: string, externalUserId: string, data: unknown) => Promise<void>;

const silent: ProviderContext['log'] = { info() {}, warn() {} };

export class ProviderHost {
  /** Decrypted settings per row object: a cached row (the webhook path) is decrypted once. */
  readonly #settings = new WeakMap<ChannelRow, Record<string, unknown>>();
  /** The guarded fetch per settings object: the channel's configured hosts are trusted. */
  readonly #fetches = new WeakMap<Record<string, unknown>, typeof fetch>();
  #pushToClient: ClientPusher | null = null;

  constructor(
    readonly registry: ProviderRegistry,
    private readonly settingsOf: (row: ChannelRow) => Record<string, unknown>,
    private readonly opts: ProviderHostOptions,
  ) {}

  /** This server's public base URL, when configured (webhook URLs, download links). */
  get publicUrl(): string | null {
    return this.opts.publicUrl;
  }

  get log(): ProviderContext['log'] {
    return this.opts.log ?? silent;
  }

  /** Binds the realtime gateway (created after the host) for providers' `ctx.pushToClient`. */
  setClientPusher(push: ClientPusher): void {
    this.#pushToClient = push;
  }

  /** The provider serving a channel (the one its settings name when several serve its type). */
  providerFor(channel: ChannelRow): ChannelProvider | undefined {
    return this.registry.forChannel(channel.type, () => this.#settingsOf(channel));
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
    const channel = this.providerChannel(row, settings);
    return {
      channel,
      publicUrl: this.opts.publicUrl,
      fetch: this.#fetchFor(channel.settings),
      log: this.opts.log ?? silent,
      ...(this.#pushToClient && {
        pushToClient: (externalUserId: string, data: unknown) =>
          this.#pushToClient!(channel.id, externalUserId, data),
      }),
    };
  }

  /**
   * Every provider call goes through the SSRF guard (providers/fetch-guard.ts): the origins in the
   * channel's own settings and the operator's allow-list as they are, anything else (an attachment
   * URL from a webhook) only to public addresses.
   */
  #fetchFor(settings: Record<string, unknown>): typeof fetch {
    let guarded = this.#fetches.get(settings);
    if (!guarded) {
      guarded = guardedFetch(this.opts.fetch ?? fetch, {
        trustedOrigins: configuredOrigins(settings),
        allowPrivate: this.opts.allowPrivate,
      });
      this.#fetches.set(settings, guarded);
    }
    return guarded;
  }
}
