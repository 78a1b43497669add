/**
 * Providers by name. Registering a built-in provider is one line below; plugins
 * (OMNILINE_PLUGINS) add theirs at start. Core code asks the registry, never a provider folder.
 *
 * Several providers may serve one channel type (WhatsApp through the Cloud API or through Twilio):
 * a channel names its own in `settings.provider`; without it, the type's last registered provider
 * serves it (so a plugin can stand in for a built-in).
 */
import { CHANNEL_TYPES } from '../domain/channel/channel.ts';
import { InvalidField } from '../errors.ts';
import { apiProvider } from './api/api.provider.ts';
import { inboxProvider } from './inbox/inbox.provider.ts';
import { instagramProvider } from './instagram/instagram.provider.ts';
import { livechatProvider } from './livechat/livechat.provider.ts';
import { messengerProvider } from './messenger/messenger.provider.ts';
import type { ChannelProvider } from './provider.ts';
import { telegramBotProvider } from './telegram/telegram.provider.ts';
import { twilioProvider } from './twilio/twilio.provider.ts';
import { viberProvider } from './viber/viber.provider.ts';
import { whatsappCloudProvider } from './whatsapp-cloud/whatsapp-cloud.provider.ts';

export function builtinProviders(): ChannelProvider[] {
  return [
    apiProvider,
    telegramBotProvider,
    whatsappCloudProvider,
    twilioProvider,
    messengerProvider,
    instagramProvider,
    viberProvider,
    livechatProvider,
    inboxProvider,
  ];
}

/** The settings key that names a channel's provider when several serve its type. */
export const PROVIDER_SETTING = 'provider';

export class ProviderRegistry {
  readonly #byName = new Map<string, ChannelProvider>();
  /** Providers per type, in registration order; the last is the type's default. */
  readonly #byType = new Map<string, ChannelProvider[]>();

  constructor(providers: ChannelProvider[] = builtinProviders()) {
    for (const p of providers) this.register(p);
  }

  register(provider: ChannelProvider): void {
    if (this.#byName.has(provider.name))
      throw new Error(`a provider named "${provider.name}" is already registered`);
    this.#byName.set(provider.name, provider);
    this.#byType.set(provider.channelType, [...(this.#byType.get(provider.channelType) ?? []), provider]);
  }

  get(name: string): ChannelProvider | undefined {
    return this.#byName.get(name);
  }

  /** The default provider of a type (its last registered). */
  forType(type: string): ChannelProvider | undefined {
    return this.#byType.get(type)?.at(-1);
  }

  /** Every provider serving a type, in registration order. */
  providersOf(type: string): readonly ChannelProvider[] {
    return this.#byType.get(type) ?? [];
  }

  /**
   * The provider of a channel: the one its settings name when several serve the type, else the
   * type's default (settings are read only when several serve it). Undefined when no provider
   * serves the type or the named one is gone.
   */
  forChannel(type: string, settings: () => Record<string, unknown>): ChannelProvider | undefined {
    const list = this.#byType.get(type);
    if (!list || list.length === 0) return undefined;
    if (list.length === 1) return list[0];
    const named = settings()[PROVIDER_SETTING];
    if (named === undefined || named === null) return list.at(-1);
    return list.find((p) => p.name === named);
  }

  /**
   * The provider new settings select, checked: `settings.provider` must name a provider of the
   * type (InvalidField otherwise). Undefined when no provider serves the type.
   */
  select(type: string, settings: Record<string, unknown>): ChannelProvider | undefined {
    const list = this.#byType.get(type) ?? [];
    const named = settings[PROVIDER_SETTING];
    if (named === undefined || named === null) return list.at(-1);
    const found = list.find((p) => p.name === named);
    if (!found) {
      throw new InvalidField(
        `settings.${PROVIDER_SETTING}`,
        list.length
          ? `must be one of ${list.map((p) => `"${p.name}"`).join(', ')} for a ${type} channel`
          : `no provider serves ${type} channels`,
      );
    }
    return found;
  }

  /** Channel types the API knows: the LineChannelTypes and any a plugin provider brings. */
  channelTypes(): string[] {
    return [...new Set<string>([...CHANNEL_TYPES, ...this.#byType.keys()])];
  }

  /** Channel types a provider serves: the only ones a channel can be created with. */
  providerTypes(): string[] {
    return [...this.#byType.keys()].sort();
  }

  all(): ChannelProvider[] {
    return [...this.#byName.values()];
  }
}
