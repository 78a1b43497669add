/**
 * Who wrote: the client a messenger's user is in a channel, as the pipeline meets them. Finds the
 * client by the messenger's id or creates them from what the messenger tells of the person (with the
 * guide's `New contact <channel>-<id>` when it tells nothing), creating and linking the CRM contact
 * on first contact when the line links contacts; keeps their presence and whether the messenger
 * still takes our messages to them. Chatwoot's ContactInboxWithContactBuilder is the model.
 */
import type { Tx } from '../../db/unit-of-work.ts';
import type { ExternalUser } from '../../providers/provider.ts';
import type { ChannelRow } from '../channel/channel.repository.ts';
import { contactRepository } from '../contact/contact.repository.ts';
import type { Deps } from '../deps.ts';
import { lineRepository } from '../line/line.repository.ts';
import { sessionRepository } from '../session/session.repository.ts';
import { type ClientRow, clientRepository } from './client.repository.ts';

export class ClientIntake {
  constructor(private readonly deps: Pick<Deps, 'db' | 'bus' | 'clock'>) {}

  /** The client of a messenger's user in the channel, if they wrote before. */
  known(channel: ChannelRow, externalId: string): Promise<ClientRow | undefined> {
    return clientRepository.byExternalId(this.deps.db, channel.id, externalId);
  }

  /** `known` for many users of the channel at once, by external id (one statement). */
  knownMany(channel: ChannelRow, externalIds: string[]): Promise<Map<string, ClientRow>> {
    return clientRepository.byExternalIds(this.deps.db, channel.id, externalIds);
  }

  byId(id: string): Promise<ClientRow | undefined> {
    return clientRepository.byId(this.deps.db, id);
  }

  /**
   * The client of `from`, created in the caller's transaction when new: the profile the messenger's
   * API gave (if asked) wins over the fields of the message itself.
   */
  async findOrCreate(
    tx: Tx,
    channel: ChannelRow,
    from: ExternalUser,
    profile: ExternalUser | null,
  ): Promise<ClientRow> {
    const pick = <K extends keyof ExternalUser>(k: K) => profile?.[k] ?? from[k] ?? null;
    const placeholder = `New contact ${channel.name}-${from.externalId}`;
    const firstName = pick('firstName');
    const lastName = pick('lastName');
    const { client, created } = await clientRepository.findOrInsert(tx.db, {
      channelId: channel.id,
      externalId: from.externalId,
      username: pick('username'),
      firstName: firstName ?? (lastName ? null : placeholder),
      lastName,
      phone: pick('phone'),
      email: pick('email'),
      avatarUrl: pick('avatarUrl'),
      online: true,
      lastSeenAt: this.deps.clock.now(),
    });
    if (!created) return client;
    // First contact: create the CRM contact and link the client, when the line links to contacts.
    const line = await lineRepository.byId(tx.db, channel.lineId);
    if (line?.settings.applicationType !== 'contact') return client;
    const name = [firstName, lastName].filter(Boolean).join(' ') || pick('username') || placeholder;
    const contact = await contactRepository.insert(tx.db, {
      name,
      phones: client.phone ? [client.phone] : [],
      emails: client.email ? [client.email] : [],
    });
    return (await clientRepository.update(tx.db, client.id, {
      applicationType: 'contact',
      applicationId: contact.id,
    }))!;
  }

  /** Records the client's presence, telling operators (`client.presence`) when it changes. */
  async setPresence(channel: ChannelRow, clientId: string, online: boolean): Promise<void> {
    if (await clientRepository.setOnline(this.deps.db, clientId, online, this.deps.clock.now())) {
      await this.#announcePresence(clientId, channel.id, online);
    }
  }

  /**
   * Presence sweep: clients silent for their line's timeout (else `defaultSeconds`) go offline, and
   * operators are told (clientOffline).
   */
  async sweepQuiet(defaultSeconds: number): Promise<void> {
    const quiet = await clientRepository.markQuietOffline(
      this.deps.db,
      this.deps.clock.now(),
      defaultSeconds,
    );
    for (const c of quiet) await this.#announcePresence(c.id, c.channel_id, false);
  }

  async #announcePresence(clientId: string, channelId: string, online: boolean): Promise<void> {
    const session = await sessionRepository.openFor(this.deps.db, clientId, channelId);
    this.deps.bus.publishEphemeral('client.presence', { clientId, sessionId: session?.id ?? null, online });
  }

  /** The client is typing: operators who see their open session are told (`client.typing`). */
  async typing(channel: ChannelRow, clientId: string): Promise<void> {
    const session = await sessionRepository.openFor(this.deps.db, clientId, channel.id);
    this.deps.bus.publishEphemeral('client.typing', {
      clientId,
      channelId: channel.id,
      sessionId: session?.id ?? null,
    });
  }

  /** The messenger refuses our messages to the client (they blocked us, unsubscribed…). */
  markUnreachable(clientId: string, reason: string): Promise<unknown> {
    return clientRepository.markUnreachable(this.deps.db, clientId, reason);
  }

  /** They wrote again: the messenger takes our answers again (Viber re-subscribes a writing user). */
  markReachable(clientId: string): Promise<unknown> {
    return clientRepository.markReachable(this.deps.db, clientId);
  }
}
