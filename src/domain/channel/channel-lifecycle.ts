/**
 * What the channel service asks of the messenger side when channels are created, changed,
 * disconnected or reconnected. Implemented by the provider layer (pipeline/channel-lifecycle.ts),
 * so the domain never imports a provider.
 */
import type { ChannelRow } from './channel.repository.ts';

export interface ChannelLifecycle {
  /** Channel types the API knows. */
  channelTypes(): string[];
  /**
   * Channel types a provider serves: the only ones a channel can be created (or reconnected) with;
   * null when no providers are wired (any known type).
   */
  providerTypes(): string[] | null;
  /** Settings keys of a channel (its type and settings choose the provider) that are not secret. */
  publicSettings(type: string, settings: Record<string, unknown>): readonly string[];
  /**
   * Checks and normalises settings for a type (`settings.provider` picks one of several providers
   * of the type); throws InvalidField naming `settings.<key>`.
   */
  validateSettings(type: string, settings: Record<string, unknown>): Record<string, unknown>;
  /**
   * Registers the channel with its messenger (validates credentials, learns the source, sets the
   * webhook). Throws an AppError (422) when the messenger refuses.
   */
  register(
    row: ChannelRow,
    settings: Record<string, unknown>,
  ): Promise<{ source: string | null; settings: Record<string, unknown> }>;
  /** Best effort: undo register on disconnect. */
  unregister(row: ChannelRow, settings: Record<string, unknown>): Promise<void>;
}

/** No messenger side: any settings, no registration (used where no providers are wired). */
export const noLifecycle: ChannelLifecycle = {
  channelTypes: () => [],
  providerTypes: () => null,
  publicSettings: () => [],
  validateSettings: (_type, settings) => settings,
  register: async (row, settings) => ({ source: row.source, settings }),
  unregister: async () => {},
};
