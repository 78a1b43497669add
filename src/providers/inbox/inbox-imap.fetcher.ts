/**
 * Reading a mailbox folder over IMAP (imapflow). The poller (pipeline/poller.ts) calls `pollImap` in a
 * loop while this node holds the channel's cluster-wide lease, and saves the returned cursor only after
 * the events are stored — so the folder state lives in the database and a crash re-reads at most one
 * batch (stored once: the Message-ID is the message's de-duplication key).
 *
 * The cursor is {folder, uidValidity, lastUid, lastDate}:
 *   - none (first connect, or another folder): the last `backfillDays` of mail are read;
 *   - the same UIDVALIDITY: every UID above lastUid — all mail since, however long we were away;
 *   - another UIDVALIDITY (the folder was rebuilt): mail since a day before lastDate is read again and
 *     de-duplicated on Message-ID.
 * With nothing new it waits in IDLE (or sleeps, on a server without IDLE) for new mail.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ImapFlow } from 'imapflow';
import type { InboundEvent, PollResult } from '../provider.ts';
import { ProviderError } from '../provider.ts';
import type { ImapSettings, InboxSettings } from './inbox.settings.ts';
import { mailToEvents } from './inbox-mail.parser.ts';

/** Messages read per round; the cursor advances after each round's are stored. */
export const IMAP_BATCH = 100;
/** How long a round waits for new mail before returning (the poller calls again at once). */
export const IDLE_WAIT_MS = 25_000;
const POLL_INTERVAL_MS = 10_000;
const DAY_MS = 86_400_000;

interface FolderCursor {
  folder: string;
  uidValidity: string;
  lastUid: number;
  /** Internal date (ms) of the last message stored. */
  lastDate: number;
}

function parseCursor(cursor: string | null, folder: string): FolderCursor | null {
  if (!cursor) return null;
  try {
    const c = JSON.parse(cursor) as FolderCursor;
    return c.folder === folder && typeof c.lastUid === 'number' ? c : null;
  } catch {
    return null;
  }
}

/** An IMAP failure as a provider error: a refused login is for good, anything else is retried. */
export function imapError(err: unknown, what = 'IMAP'): ProviderError {
  if (err instanceof ProviderError) return err;
  const e = err as { authenticationFailed?: boolean; responseText?: string; message?: string; code?: string };
  if (e.authenticationFailed) {
    return new ProviderError(
      'IMAP_LOGIN_FAILED',
      `${what} login refused: ${e.responseText || e.message || 'authentication failed'}`,
      { retryable: false },
    );
  }
  return new ProviderError('IMAP_UNAVAILABLE', `${what}: ${e.responseText || e.message || String(err)}`, {
    retryable: true,
  });
}

export function imapClient(s: ImapSettings): ImapFlow {
  return new ImapFlow({
    host: s.host,
    port: s.port,
    secure: s.secure,
    auth: { user: s.user, pass: s.password },
    logger: false,
    connectionTimeout: 15_000,
    greetingTimeout: 10_000,
    socketTimeout: 5 * 60_000,
  });
}

/** Connects and logs in (register, attachment loads), closing the connection after `fn`. */
export async function withImap<T>(s: ImapSettings, fn: (client: ImapFlow) => Promise<T>): Promise<T> {
  const client = imapClient(s);
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    throw imapError(err);
  }
  try {
    return await fn(client);
  } finally {
    await client.logout().catch(() => client.close());
  }
}

/** One open connection per channel on this node, replaced when the settings change or it drops. */
class Connections {
  readonly #open = new Map<string, { key: string; client: ImapFlow }>();

  async get(channelId: string, s: ImapSettings): Promise<ImapFlow> {
    const key = JSON.stringify(s);
    const current = this.#open.get(channelId);
    if (current?.key === key && current.client.usable) return current.client;
    if (current) this.drop(channelId);
    const client = imapClient(s);
    client.on('error', () => {});
    this.#open.set(channelId, { key, client });
    try {
      await client.connect();
      await client.mailboxOpen(s.folder);
    } catch (err) {
      this.drop(channelId);
      throw imapError(err);
    }
    return client;
  }

  drop(channelId: string): void {
    const current = this.#open.get(channelId);
    this.#open.delete(channelId);
    if (current) void current.client.logout().catch(() => current.client.close());
  }
}

const connections = new Connections();

/**
 * Raw messages read in the last rounds, by ref, so the attachment loads that follow a round do not
 * fetch them again (bounded; a load after a restart fetches from the server).
 */
class RecentRaw {
  readonly #items = new Map<string, Buffer>();
  #bytes = 0;
  constructor(private readonly maxBytes: number) {}
  put(ref: string, raw: Buffer): void {
    if (raw.length > this.maxBytes / 4 || this.#items.has(ref)) return;
    this.#items.set(ref, raw);
    this.#bytes += raw.length;
    for (const [k, v] of this.#items) {
      if (this.#bytes <= this.maxBytes) break;
      this.#items.delete(k);
      this.#bytes -= v.length;
    }
  }
  get(ref: string): Buffer | undefined {
    return this.#items.get(ref);
  }
}

const recent = new RecentRaw(32 * 1024 * 1024);

/** Waits for new mail in the open folder: IDLE until EXISTS grows, the timeout, or the abort. */
async function waitForMail(client: ImapFlow, signal: AbortSignal): Promise<void> {
  if (!client.capabilities.has('IDLE')) {
    await sleep(POLL_INTERVAL_MS, undefined, { signal }).catch(() => {});
    return;
  }
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const exists = new Promise<void>((resolve) => {
    client.once('exists', () => resolve());
    ac.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  // idle() returns only when IDLE ends: the next command of this connection breaks it.
  void client.idle().catch(() => {});
  await Promise.race([exists, sleep(IDLE_WAIT_MS, undefined, { signal: ac.signal }).catch(() => {})]);
  ac.abort();
  signal.removeEventListener('abort', onAbort);
}

/** One round: the next batch of mail after the cursor, or a wait for new mail when there is none. */
export async function pollImap(
  channelId: string,
  settings: InboxSettings,
  cursor: string | null,
  signal: AbortSignal,
  now: Date = new Date(),
): Promise<PollResult> {
  const folder = settings.imap.folder;
  let client: ImapFlow;
  try {
    client = await connections.get(channelId, settings.imap);
  } catch (err) {
    throw imapError(err);
  }
  const onAbort = () => connections.drop(channelId);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const box = client.mailbox;
    if (!box) throw new ProviderError('IMAP_UNAVAILABLE', 'the folder is not open', { retryable: true });
    const uidValidity = String(box.uidValidity);
    const state = parseCursor(cursor, folder);
    let after: number;
    let uids: number[];
    if (!state || state.uidValidity !== uidValidity) {
      // First connect: the backfill window; a rebuilt folder: again from a day before the last stored.
      const since = state
        ? new Date(state.lastDate - DAY_MS)
        : new Date(now.getTime() - settings.backfillDays * DAY_MS);
      after = 0;
      uids = state || settings.backfillDays > 0 ? (await client.search({ since }, { uid: true })) || [] : [];
      if (uids.length === 0) {
        const fresh: FolderCursor = {
          folder,
          uidValidity,
          lastUid: box.uidNext - 1,
          lastDate: state?.lastDate ?? now.getTime(),
        };
        return { events: [], cursor: JSON.stringify(fresh) };
      }
    } else {
      after = state.lastUid;
      // (The folder's uidNext is not kept current while it is open: the search asks the server.)
      uids = box.exists > 0 ? (await client.search({ uid: `${after + 1}:*` }, { uid: true })) || [] : [];
    }
    const batch = uids
      .filter((u) => u > after)
      .sort((a, b) => a - b)
      .slice(0, IMAP_BATCH);
    if (batch.length === 0) {
      if (state && state.uidValidity === uidValidity) await waitForMail(client, signal);
      return { events: [], cursor: state && state.uidValidity === uidValidity ? cursor : null };
    }
    const events: InboundEvent[] = [];
    let lastUid = after;
    let lastDate = state?.lastDate ?? 0;
    for await (const msg of client.fetch(
      batch.join(','),
      { uid: true, source: true, internalDate: true },
      { uid: true },
    )) {
      if (!msg.source) continue;
      const at = msg.internalDate instanceof Date ? msg.internalDate : new Date();
      const ref = `imap:${encodeURIComponent(folder)}:${uidValidity}:${msg.uid}`;
      recent.put(ref, msg.source);
      try {
        events.push(...(await mailToEvents(msg.source, ref, at)));
      } catch (err) {
        events.push({
          kind: 'unsupported',
          description: `an e-mail that cannot be parsed: ${(err as Error).message}`,
          timestamp: at,
        });
      }
      lastUid = Math.max(lastUid, msg.uid);
      lastDate = Math.max(lastDate, at.getTime());
    }
    const next: FolderCursor = { folder, uidValidity, lastUid, lastDate };
    return { events, cursor: JSON.stringify(next) };
  } catch (err) {
    connections.drop(channelId);
    throw imapError(err);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** The raw bytes of one message by the ref `imap:<folder>:<uidValidity>:<uid>` (attachment loads). */
export async function fetchRaw(settings: ImapSettings, ref: string): Promise<Buffer> {
  const m = /^imap:([^:]*):(\d+):(\d+)$/.exec(ref);
  if (!m) throw new ProviderError('BAD_REF', 'not an IMAP message reference', { retryable: false });
  const [, folder, uidValidity, uid] = m;
  const cached = recent.get(ref);
  if (cached) return cached;
  return withImap(settings, async (client) => {
    const box = await client.mailboxOpen(decodeURIComponent(folder!));
    if (String(box.uidValidity) !== uidValidity) {
      throw new ProviderError('MESSAGE_GONE', 'the folder was rebuilt (UIDVALIDITY changed)', {
        retryable: false,
      });
    }
    const msg = await client.fetchOne(uid!, { source: true }, { uid: true });
    if (msg === false || !msg?.source) {
      throw new ProviderError('MESSAGE_GONE', 'the message is no longer in the folder', { retryable: false });
    }
    return msg.source;
  });
}
