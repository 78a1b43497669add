/**
 * Providers by name. Registering a built-in provider is one line below; plugins
 * (OMNILINE_PLUGINS) add theirs at start. Core code asks the registry, never a provider folder.
 */
import { CHANNEL_TYPES } from '../domain/channel/channel.ts';
import { apiProvider } from './api/api.provider.ts';
import type { ChannelProvider } from './provider.ts';
import { telegramBotProvider } from './telegram/telegram.provider.ts';

export function builtinProviders(): ChannelProvider[] {
  return [apiProvider, telegramBotProvider];
}

export class ProviderRegistry {
  readonly #byName = new Map<string, ChannelProvider>();
  readonly #byType = new Map<string, ChannelProvider>();

  constructor(providers: ChannelProvider[] = builtinProviders()) {
    for (const p of providers) this.register(p);
  }

  register(provider: ChannelProvider): void {
    if (this.#byName.has(provider.name))
      throw new Error(`a provider named "${provider.name}" is already registered`);
    this.#byName.set(provider.name, provider);
    this.#byType.set(provider.channelType, provider);
  }

  get(name: string): ChannelProvider | undefined {
    return this.#byName.get(name);
  }

  forType(type: string): ChannelProvider | undefined {
    return this.#byType.get(type);
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
