/**
 * Bots: a session assigned to a bot receives each client message by a signed outgoing webhook
 * (`X-Omniline-Signature: sha256=<hex HMAC-SHA256(bot secret, body)>`, as the api channel). The bot
 * acts through the API with its own token. When its webhook keeps failing, the session is handed to
 * the line's queue: a client is never stranded with a dead bot. The call goes through the SSRF guard
 * as a provider's do: the webhook's own host as its admin configured it, a redirect elsewhere only
 * to a public address (a refusal hands the session over at once: retrying cannot help).
 */
import type { ActorRef } from '../db/schema.ts';
import type { BotService } from '../domain/bot/bot.service.ts';
import { clientRepository } from '../domain/client/client.repository.ts';
import { clientView } from '../domain/client/client.service.ts';
import type { Deps } from '../domain/deps.ts';
import { messageRepository } from '../domain/message/message.repository.ts';
import { messageView } from '../domain/message/message.service.ts';
import { sessionRepository } from '../domain/session/session.repository.ts';
import type { SessionService } from '../domain/session/session.service.ts';
import { sessionView } from '../domain/session/session.view.ts';
import type { JobOutcome } from '../jobs/worker.ts';
import { signApiBody } from '../providers/api/api.provider.ts';
import { configuredOrigins, FetchRefused, guardedFetch } from '../providers/fetch-guard.ts';
import { httpRequest } from '../providers/http.ts';

const SYSTEM: ActorRef = { type: 'system', id: null };

export class BotDispatcher {
  constructor(
    private readonly deps: Deps,
    private readonly bots: BotService,
    private readonly sessions: SessionService,
    private readonly fetchFn: typeof fetch = fetch,
    /** Hosts that may be private: OMNILINE_FETCH_ALLOW_PRIVATE. */
    private readonly allowPrivate?: readonly string[],
  ) {}

  async run(job: {
    payload: Record<string, unknown>;
    attempts: number;
    maxAttempts: number;
  }): Promise<JobOutcome | undefined> {
    const botId = String(job.payload.botId);
    const message = await messageRepository.byId(this.deps.db, String(job.payload.messageId));
    const session = message && (await sessionRepository.byId(this.deps.db, message.sessionId));
    if (!message || !session || session.state !== 'AssignedToBot' || session.botId !== botId)
      return undefined;
    const settings = await this.bots.settings(botId);
    if (!settings?.webhookUrl || !settings.secret) {
      await this.#handOver(session.id, botId);
      return { fail: { error: 'the bot has no webhook; the session went to the queue' } };
    }
    const client = await clientRepository.byId(this.deps.db, session.clientId);
    const body = JSON.stringify({
      event: 'message',
      botId,
      session: sessionView(session),
      client: client ? clientView(client) : null,
      message: messageView(message),
    });
    const guarded = guardedFetch(this.fetchFn, {
      trustedOrigins: configuredOrigins(settings),
      allowPrivate: this.allowPrivate,
    });
    const res = await httpRequest(guarded, settings.webhookUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-omniline-signature': signApiBody(settings.secret, body),
      },
      body,
      timeoutMs: 10_000,
    }).catch((err: Error) => ({ status: 0, error: err.message, refused: err instanceof FetchRefused }));
    if (res.status >= 200 && res.status < 300) return undefined;
    const error = `bot webhook answered ${res.status || ('error' in res ? res.error : 'nothing')}`;
    if (job.attempts < job.maxAttempts && !('refused' in res && res.refused)) return { retry: { error } };
    await this.#handOver(session.id, botId);
    return { fail: { error: `${error}; the session went to the queue` } };
  }

  /** Gives the session to the line's queue if the bot still has it. */
  async #handOver(sessionId: string, botId: string): Promise<void> {
    await this.deps.uow.run(async (tx) => {
      const session = await sessionRepository.byId(tx.db, sessionId, { forUpdate: true });
      if (session?.state !== 'AssignedToBot' || session.botId !== botId) return;
      await this.sessions.applyLocked(tx, session, { type: 'enqueue' }, SYSTEM);
    });
  }
}
