/**
 * SMTP in (smtp-server), for domains that forward their support mail or point MX at us: the optional
 * listener of OMNILINE_SMTP_PORT. The recipient address picks the channel (the inbox channel whose
 * `smtpIn.address` it is; any other recipient is refused with 550 5.1.1), and each accepted mail goes
 * through the same parser and inbound pipeline as mail read over IMAP — so threading, auto-reply and
 * bounce handling and de-duplication on Message-ID are the same.
 *
 * Nothing is lost: the raw message is put in the file store and stored as session messages BEFORE the
 * 250 reply; a failure answers 451 and the sending server tries again (a repeat is dropped on its
 * Message-ID). Attachment parts are loaded later from that stored original (refs `smtp:<fileId>#…`).
 * Limits: a message size cap (SIZE, 552 beyond it), recipients per message, concurrent connections;
 * STARTTLS only when a certificate is configured. No AUTH: this is a receiving MX, not a relay.
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { Db } from '../../db/client.ts';
import { type ChannelRow, channelRepository } from '../../domain/channel/channel.repository.ts';
import type { FileService } from '../../files/file.service.ts';
import type { InboundPipeline } from '../../pipeline/inbound.ts';
import type { ProviderHost } from '../../pipeline/provider-host.ts';
import { normalizeAddress } from './inbox.settings.ts';
import { mailToEvents } from './inbox-mail.parser.ts';

export interface SmtpInOptions {
  port: number;
  host: string;
  /** The largest message taken, in bytes (advertised as SIZE). */
  maxBytes: number;
  /** Recipients per message (RCPT TO beyond it: 452). */
  maxRecipients?: number;
  /** Connections at once. */
  maxClients?: number;
  /** PEM files: STARTTLS is offered only with both. */
  tlsCert?: string | null;
  tlsKey?: string | null;
}

export interface SmtpInDeps {
  db: Db;
  host: ProviderHost;
  inbound: InboundPipeline;
  files: FileService;
  /** channel.stateChanged / channel.updated drop the address cache. */
  onChannelChange(fn: () => void): () => void;
  log?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

/** How long the address → channel table is trusted without a channel change. */
const ADDRESSES_TTL_MS = 5000;

type SmtpError = Error & { responseCode: number };
const smtpReply = (code: number, message: string): SmtpError =>
  Object.assign(new Error(message), { responseCode: code });

/** Reads the stream to its end; null when it went over the size cap. */
function collect(stream: SMTPServerDataStream): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', reject);
    stream.on('end', () => resolve(stream.sizeExceeded ? null : Buffer.concat(chunks)));
  });
}

export class SmtpInListener {
  readonly #server: SMTPServer;
  #addresses: { at: number; map: Map<string, ChannelRow> } | null = null;
  #loading: Promise<Map<string, ChannelRow>> | null = null;
  #offChanges: (() => void) | null = null;
  #port: number | null = null;
  readonly #rcptCounts = new WeakMap<SMTPServerSession, { transaction: number; count: number }>();

  constructor(
    private readonly deps: SmtpInDeps,
    private readonly opts: SmtpInOptions,
  ) {
    const tls =
      opts.tlsCert && opts.tlsKey
        ? { cert: readFileSync(opts.tlsCert), key: readFileSync(opts.tlsKey) }
        : null;
    this.#server = new SMTPServer({
      name: 'omniline',
      banner: 'Omniline ESMTP',
      secure: false,
      ...(tls ?? {}),
      disabledCommands: tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
      authOptional: true,
      size: opts.maxBytes,
      maxClients: opts.maxClients ?? 100,
      logger: false,
      onRcptTo: (address, session, cb) => {
        this.#recipient(address.address, session).then(
          () => cb(),
          (err: Error) => cb(err),
        );
      },
      onData: (stream, session, cb) => {
        this.#data(stream, session).then(
          () => cb(),
          (err: Error) => cb(err),
        );
      },
    });
    this.#server.on('error', (err) => this.deps.log?.warn({ err }, 'SMTP in: server error'));
  }

  /** Listens; resolves with the port (the configured one, or the one the system picked for 0). */
  async listen(): Promise<number> {
    this.#offChanges = this.deps.onChannelChange(() => {
      this.#addresses = null;
    });
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.opts.port, this.opts.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const address = (this.#server as unknown as { server: { address(): { port: number } } }).server.address();
    this.#port = address.port;
    this.deps.log?.info({ port: this.#port }, 'SMTP in: listening');
    return this.#port;
  }

  get port(): number | null {
    return this.#port;
  }

  async close(): Promise<void> {
    this.#offChanges?.();
    if (this.#port === null) return;
    this.#port = null;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** The active inbox channels by their `smtpIn.address` (the oldest wins a shared address). */
  async #table(): Promise<Map<string, ChannelRow>> {
    if (this.#addresses && Date.now() - this.#addresses.at < ADDRESSES_TTL_MS) return this.#addresses.map;
    this.#loading ??= (async () => {
      const rows = await channelRepository.activeOfTypes(this.deps.db, ['inbox']);
      rows.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
      const map = new Map<string, ChannelRow>();
      for (const row of rows) {
        const smtpIn = this.deps.host.providerChannel(row).settings.smtpIn as
          | { address?: unknown }
          | undefined;
        const address = typeof smtpIn?.address === 'string' ? normalizeAddress(smtpIn.address) : null;
        if (address && !map.has(address)) map.set(address, row);
      }
      this.#addresses = { at: Date.now(), map };
      return map;
    })().finally(() => {
      this.#loading = null;
    });
    return this.#loading;
  }

  async #recipient(raw: string, session: SMTPServerSession): Promise<void> {
    // Every RCPT TO counts, refused ones too (no probing a list of addresses in one message).
    const seen = this.#rcptCounts.get(session);
    const count = seen?.transaction === session.transaction ? seen.count + 1 : 1;
    this.#rcptCounts.set(session, { transaction: session.transaction, count });
    if (count > (this.opts.maxRecipients ?? 50)) {
      throw smtpReply(452, '4.5.3 Too many recipients');
    }
    const address = normalizeAddress(raw);
    let channel: ChannelRow | undefined;
    try {
      channel = address ? (await this.#table()).get(address) : undefined;
    } catch {
      throw smtpReply(451, '4.3.0 Temporary failure, try again later');
    }
    if (!channel) throw smtpReply(550, `5.1.1 <${raw}>: no such mailbox here`);
  }

  async #data(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<void> {
    const raw = await collect(stream);
    if (!raw) throw smtpReply(552, `5.3.4 Message too big: the limit is ${this.opts.maxBytes} bytes`);
    try {
      const table = await this.#table();
      const channels = new Map<string, ChannelRow>();
      for (const r of session.envelope.rcptTo) {
        const c = table.get(normalizeAddress(r.address) ?? '');
        if (c) channels.set(c.id, c);
      }
      // Unlikely: every recipient's channel went away between RCPT and DATA.
      if (channels.size === 0) throw smtpReply(550, '5.1.1 no such mailbox here');
      // The original first, where the attachment loads find it again (any node: the shared store).
      const file = await this.deps.files.save(Readable.from([raw]), {
        name: 'message.eml',
        mimeType: 'message/rfc822',
      });
      const events = await mailToEvents(raw, `smtp:${file.id}`, new Date());
      for (const channel of channels.values()) {
        await this.deps.inbound.receive(channel, events, this.deps.host.profileLookup(channel));
      }
    } catch (err) {
      if ((err as Partial<SmtpError>).responseCode) throw err;
      this.deps.log?.warn({ err }, 'SMTP in: a mail could not be stored; the sender will retry');
      throw smtpReply(451, '4.3.0 Temporary failure storing the message, try again later');
    }
  }
}
