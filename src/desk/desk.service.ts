/**
 * What the operator desk (web/desk) needs beyond the workspace API: its lists as session views
 * (client name, channel type, last message, unread, timers — the data of chatSessionStarted) in the
 * router's order, internal notes, canned replies, and the loads of a line's staff.
 */
import { isUniqueViolation } from '../db/pg-errors.ts';
import { lineIdsOfUser } from '../domain/access/access.repository.ts';
import type { Deps } from '../domain/deps.ts';
import { type MessageView, messageView } from '../domain/message/message.service.ts';
import { recordMessage } from '../domain/message/record-message.ts';
import { operatorRepository } from '../domain/operator/operator.repository.ts';
import type { SearchRequest } from '../domain/search/filter.ts';
import type { SessionRow } from '../domain/session/session.repository.ts';
import type { SessionService } from '../domain/session/session.service.ts';
import { type Priority, priorityName, priorityRank } from '../domain/session/session.ts';
import type { Caller } from '../domain/user/user.ts';
import { Conflict, Forbidden, InvalidField, NotFound } from '../errors.ts';
import type { ChatSession } from '../live/operator-events.ts';
import { chatSessions } from '../live/session-payload.ts';
import { type CannedReplyRow, deskRepository } from './desk.repository.ts';

export const DESK_LISTS = ['mine', 'queue', 'closed'] as const;
export type DeskList = (typeof DESK_LISTS)[number];

/** A session as the desk lists it: the live events' session view and what the lists sort and filter by. */
export interface DeskChat extends ChatSession {
  lineId: string;
  channelId: string;
  priority: Priority;
  /** Offered to me (accept to take it), not yet mine. */
  offered: boolean;
  accepted: boolean;
  queuedAt: string | null;
  awaitingAnswerSince: string | null;
  closedAt: string | null;
}

/** How long a closed session stays in "closed recently". */
export const CLOSED_RECENTLY_MS = 24 * 3600_000;
export const MAX_NOTE = 10_000;
export const MAX_CANNED = 4_000;
const SHORTCUT = /^[\p{L}\p{N}_-]{1,40}$/u;

export class DeskService {
  constructor(
    private readonly deps: Deps,
    private readonly sessions: SessionService,
  ) {}

  /** One of the desk's lists, sorted as the desk shows it (see `sortChats`). */
  async list(list: DeskList, caller: Caller): Promise<{ items: DeskChat[]; total: number }> {
    let ids: string[];
    if (list === 'mine') ids = (await operatorRepository.workspace(this.deps.db, caller.id)).map((r) => r.id);
    else if (list === 'queue') ids = await deskRepository.queueIds(this.deps.db, caller);
    else
      ids = await deskRepository.closedIds(
        this.deps.db,
        caller,
        new Date(this.deps.clock.now().getTime() - CLOSED_RECENTLY_MS),
      );
    const items = await this.#views(ids, caller);
    if (list === 'closed') items.sort((a, b) => (b.closedAt ?? '').localeCompare(a.closedAt ?? ''));
    else sortChats(items);
    return { items, total: items.length };
  }

  /** The desk view of one session the caller may see. */
  async chat(sessionId: string, caller: Caller): Promise<DeskChat> {
    await this.sessions.visible(sessionId, caller);
    const [view] = await this.#views([sessionId], caller);
    if (!view) throw new NotFound('Session', sessionId);
    return view;
  }

  /** The search language over sessions (the supervisor's query box), answered as desk views. */
  async search(request: SearchRequest, caller: Caller): Promise<{ items: DeskChat[]; total: number }> {
    const page = await this.sessions.search(request, caller);
    const views = new Map(
      (
        await this.#views(
          page.items.map((s) => s.id),
          caller,
        )
      ).map((v) => [v.id, v]),
    );
    return { items: page.items.flatMap((s) => views.get(s.id) ?? []), total: page.total };
  }

  async #views(ids: string[], caller: Caller): Promise<DeskChat[]> {
    return (await chatSessions(this.deps, ids)).map(({ session, view }) => deskChat(session, view, caller));
  }

  /** An internal note: a message of type `note`, seen by staff, never sent to the client. */
  async addNote(sessionId: string, text: string, caller: Caller): Promise<MessageView> {
    if (caller.role === 'bot') throw new Forbidden('notes are for staff');
    if (!text.trim()) throw new InvalidField('body.text', 'a note needs text');
    const session = await this.sessions.visible(sessionId, caller);
    // No outbox job and no touch of the session: a note is neither sent nor an answer.
    const row = await this.deps.uow.run(
      async (tx) =>
        (await recordMessage(tx, {
          session,
          at: this.deps.clock.now(),
          values: {
            channelId: session.channelId,
            direction: 'outgoing',
            type: 'note',
            text,
            senderType: 'operator',
            senderId: caller.id,
            status: 'sent',
          },
          touch: false,
        }))!,
    );
    return messageView(row);
  }

  async cannedReplies(caller: Caller) {
    const rows = await deskRepository.cannedFor(this.deps.db, caller);
    return { items: rows.map(cannedView), total: rows.length };
  }

  /** A canned reply of a line (supervisors and admins of that line) or, without `lineId`, my own. */
  async addCannedReply(input: { shortcut: string; text: string; lineId?: string }, caller: Caller) {
    checkCanned(input);
    if (input.lineId) await this.#mayManageLine(input.lineId, caller);
    const row = await deskRepository.insertCanned(this.deps.db, {
      shortcut: input.shortcut,
      text: input.text,
      lineId: input.lineId ?? null,
      userId: input.lineId ? null : caller.id,
    });
    if (!row) throw shortcutTaken(input.shortcut);
    return cannedView(row);
  }

  /** Changes a canned reply's shortcut or text: my own, or one of a line I supervise. */
  async updateCannedReply(id: string, input: { shortcut?: string; text?: string }, caller: Caller) {
    checkCanned(input);
    await this.#changeable(id, caller);
    try {
      const row = await deskRepository.updateCanned(this.deps.db, id, {
        ...input,
        updatedAt: this.deps.clock.now(),
      });
      if (!row) throw new NotFound('CannedReply', id);
      return cannedView(row);
    } catch (err) {
      if (isUniqueViolation(err)) throw shortcutTaken(input.shortcut ?? '');
      throw err;
    }
  }

  async deleteCannedReply(id: string, caller: Caller): Promise<void> {
    await this.#changeable(id, caller);
    await deskRepository.deleteCanned(this.deps.db, id, this.deps.clock.now());
  }

  /** A canned reply the caller may change (404 for one they may not, as for one that does not exist). */
  async #changeable(id: string, caller: Caller): Promise<CannedReplyRow> {
    const row = await deskRepository.cannedById(this.deps.db, id);
    if (!row) throw new NotFound('CannedReply', id);
    if (row.userId ? row.userId !== caller.id : !(await this.#mayManageLine(row.lineId!, caller, true))) {
      throw new NotFound('CannedReply', id);
    }
    return row;
  }

  async #mayManageLine(lineId: string, caller: Caller, quiet = false): Promise<boolean> {
    const ok =
      caller.role === 'admin' ||
      (caller.role === 'supervisor' && (await lineIdsOfUser(this.deps.db, caller.id)).includes(lineId));
    if (!ok && !quiet) throw new Forbidden('only the supervisors of a line manage its canned replies');
    return ok;
  }

  /** The staff of my lines (or one line) with status, open sessions and capacity: supervisors' view. */
  async staff(caller: Caller, lineId?: string) {
    if (caller.role === 'operator' || caller.role === 'bot')
      throw new Forbidden('for supervisors and admins');
    const rows = await deskRepository.staff(this.deps.db, caller, lineId);
    const items = rows.map((r) => ({
      id: r.id,
      name: r.name,
      role: r.role,
      status: r.status,
      openSessions: r.open_sessions,
      capacity: r.max_sessions ?? r.line_capacity ?? 5,
    }));
    return { items, total: items.length };
  }
}

function deskChat(s: SessionRow, view: ChatSession, caller: Caller): DeskChat {
  return {
    ...view,
    lineId: s.lineId,
    channelId: s.channelId,
    priority: priorityName(s.priority),
    offered: s.state === 'Waiting' && s.offeredTo.includes(caller.id),
    accepted: s.acceptedAt !== null,
    queuedAt: s.queuedAt?.toISOString() ?? null,
    awaitingAnswerSince: s.awaitingAnswerSince?.toISOString() ?? null,
    closedAt: s.closedAt?.toISOString() ?? null,
  };
}

/**
 * The router's order, also for the operator's own chats: higher priority first, then whoever has
 * waited longest (in the queue, or for an answer), then the latest activity. The desk sorts its live
 * lists with the same rule (web/desk/src/state/sort.ts mirrors it).
 */
export function sortChats(items: DeskChat[]): DeskChat[] {
  const waitingSince = (c: DeskChat) => c.awaitingAnswerSince ?? c.queuedAt ?? '9999';
  return items.sort(
    (a, b) =>
      priorityRank(b.priority) - priorityRank(a.priority) ||
      waitingSince(a).localeCompare(waitingSince(b)) ||
      (b.lastMessageCreatedAt ?? '').localeCompare(a.lastMessageCreatedAt ?? ''),
  );
}

function checkCanned(input: { shortcut?: string; text?: string }): void {
  if (input.shortcut !== undefined && !SHORTCUT.test(input.shortcut)) {
    throw new InvalidField('body.shortcut', 'must be 1–40 letters, digits, "_" or "-" (typed after "/")');
  }
  if (input.text !== undefined && !input.text.trim())
    throw new InvalidField('body.text', 'must not be blank');
}

function shortcutTaken(shortcut: string): Conflict {
  return new Conflict('SHORTCUT_TAKEN', `the shortcut /${shortcut} is taken`);
}

function cannedView(r: CannedReplyRow) {
  return {
    id: r.id,
    shortcut: r.shortcut,
    text: r.text,
    lineId: r.lineId,
    userId: r.userId,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}
