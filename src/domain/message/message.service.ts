import { sql } from 'drizzle-orm';
import { messages, sessions } from '../../db/schema.ts';
import { InvalidField } from '../../errors.ts';
import { sessionScope } from '../access/access.repository.ts';
import type { Deps } from '../deps.ts';
import { compileSearch, type EntitySearchSpec, type SearchRequest } from '../search/filter.ts';
import { searchTable } from '../search/search.repository.ts';
import type { Caller } from '../user/user.ts';
import { type MessageRow, messageRepository } from './message.repository.ts';
import {
  MESSAGE_DIRECTIONS,
  MESSAGE_STATUSES,
  MESSAGE_TYPES,
  type MessageDirection,
  type MessageStatus,
  type MessageType,
  SENDER_TYPES,
  type SenderType,
} from './message.ts';

export interface MessageView {
  id: string;
  sessionId: string;
  channelId: string;
  direction: MessageDirection;
  type: MessageType;
  text: string | null;
  attachments: { fileId: string | null; name: string | null; mimeType: string | null; size: number | null }[];
  sender: { type: SenderType; id: string | null };
  externalId: string | null;
  status: MessageStatus;
  error: { code: string; message: string } | null;
  editedAt: string | null;
  readAt: string | null;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
  /** Page cursor: pass as `before` to get older messages. */
  cursor: string;
}

export function messageView(r: MessageRow): MessageView {
  return {
    id: r.id,
    sessionId: r.sessionId,
    channelId: r.channelId,
    direction: r.direction as MessageDirection,
    type: r.type as MessageType,
    text: r.text,
    attachments: r.attachments.map((a) => ({
      fileId: a.fileId,
      name: a.name,
      mimeType: a.mimeType,
      size: a.size,
    })),
    sender: { type: r.senderType as SenderType, id: r.senderId },
    externalId: r.externalId,
    status: r.status as MessageStatus,
    error: r.error ?? null,
    editedAt: r.editedAt?.toISOString() ?? null,
    readAt: r.readAt?.toISOString() ?? null,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    deletedAt: r.deletedAt?.toISOString() ?? null,
    cursor: String(r.seq),
  };
}

export const messageSearch: EntitySearchSpec = {
  fields: {
    id: { column: messages.id, kind: 'uuid', sortable: true },
    sessionId: { column: messages.sessionId, kind: 'uuid' },
    channelId: { column: messages.channelId, kind: 'uuid' },
    direction: { column: messages.direction, kind: 'enum', values: MESSAGE_DIRECTIONS },
    type: { column: messages.type, kind: 'enum', values: MESSAGE_TYPES },
    text: { column: messages.text, kind: 'text' },
    senderType: { column: messages.senderType, kind: 'enum', values: SENDER_TYPES },
    senderId: { column: messages.senderId, kind: 'text' },
    externalId: { column: messages.externalId, kind: 'text' },
    status: { column: messages.status, kind: 'enum', values: MESSAGE_STATUSES },
    editedAt: { column: messages.editedAt, kind: 'timestamp', sortable: true },
    readAt: { column: messages.readAt, kind: 'timestamp', sortable: true },
    createdAt: { column: messages.createdAt, kind: 'timestamp', sortable: true },
    deletedAt: { column: messages.deletedAt, kind: 'timestamp' },
  },
  aliases: { session: 'sessionId', channel: 'channelId' },
  defaultSort: [{ field: 'createdAt', dir: 'desc' }],
  tieBreaker: messages.seq,
  deletedField: 'deletedAt',
};

export const MAX_MESSAGE_PAGE = 200;

export class MessageService {
  constructor(private readonly deps: Deps) {}

  async search(request: SearchRequest, caller: Caller) {
    const scope = sql`EXISTS (SELECT 1 FROM ${sessions} WHERE ${sessions.id} = ${messages.sessionId} AND ${sessionScope(caller)})`;
    const page = await searchTable(this.deps.db, messages, compileSearch(messageSearch, request), scope);
    return { items: page.items.map(messageView), total: page.total };
  }

  /**
   * Newest first; `cursor` is the `nextCursor` of the page before (the `cursor` of the oldest message
   * already shown). `before` is its former name, still accepted.
   */
  async page(sessionId: string, opts: { limit?: number; cursor?: string; before?: string }) {
    const limit = opts.limit ?? 50;
    const [name, given] = opts.cursor !== undefined ? ['cursor', opts.cursor] : ['before', opts.before];
    let before: number | null = null;
    if (given !== undefined) {
      before = Number(given);
      if (!Number.isSafeInteger(before) || before < 0)
        throw new InvalidField(`querystring.${name}`, 'must be a message cursor');
    }
    const [rows, total] = await Promise.all([
      messageRepository.page(this.deps.db, sessionId, limit + 1, before),
      messageRepository.count(this.deps.db, sessionId),
    ]);
    const items = rows.slice(0, limit).map(messageView);
    return { items, total, nextCursor: rows.length > limit ? (items.at(-1)?.cursor ?? null) : null };
  }

  async last(sessionId: string): Promise<MessageView | null> {
    const row = await messageRepository.last(this.deps.db, sessionId);
    return row ? messageView(row) : null;
  }
}
