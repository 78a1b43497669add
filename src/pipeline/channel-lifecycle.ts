/** The provider side of channel lifecycle: validation, registration and unregistration through providers. */
import type { ChannelLifecycle } from '../domain/channel/channel-lifecycle.ts';
import { Unprocessable } from '../errors.ts';
import { mergeSettings } from '../lib/settings-mask.ts';
import { ProviderError } from '../providers/provider.ts';
import { PROVIDER_SETTING } from '../providers/registry.ts';
import type { ProviderHost } from './provider-host.ts';

export function providerLifecycle(host: ProviderHost): ChannelLifecycle {
  return {
    channelTypes: () => host.registry.channelTypes(),
    providerTypes: () => host.registry.providerTypes(),
    publicSettings: (type, settings) => {
      const provider = host.registry.forChannel(type, () => settings);
      return [...(provider?.publicSettings ?? []), PROVIDER_SETTING];
    },
    validateSettings(type, settings) {
      const provider = host.registry.select(type, settings);
      if (!provider) return settings;
      const validated = provider.validateSettings(settings);
      // Pinned where several providers serve the type, so a provider registered later never takes it over.
      return host.registry.providersOf(type).length > 1 || PROVIDER_SETTING in settings
        ? { ...validated, [PROVIDER_SETTING]: provider.name }
        : validated;
    },
    async register(row, settings) {
      const provider = host.registry.forChannel(row.type, () => settings);
      if (!provider?.register) return { source: row.source, settings };
      try {
        const result = await provider.register(host.context(row, settings));
        return {
          source: result.source ?? row.source,
          settings: mergeSettings(settings, result.settings ?? {}),
        };
      } catch (err) {
        if (err instanceof ProviderError) {
          throw new Unprocessable('CHANNEL_REGISTRATION_FAILED', `${provider.name}: ${err.message}`, {
            providerCode: err.code,
          });
        }
        throw err;
      }
    },
    async unregister(row, settings) {
      const provider = host.registry.forChannel(row.type, () => settings);
      try {
        await provider?.unregister?.(host.context(row, settings));
      } catch (err) {
        host.log.warn({ err, channelId: row.id }, 'unregistering the channel failed; continuing');
      }
    },
  };
}
