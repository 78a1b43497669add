import type { Tx } from '../../db/unit-of-work.ts';
import type { DomainEventMap } from '../events/domain-events.ts';
import { sessionRepository } from '../session/session.repository.ts';
import type { MessageRow } from './message.repository.ts';

/** The one `message.created` payload, for every path that stores a message (the batch SQL is made from it). */
export function messageCreatedPayload(
  message: Pick<MessageRow, 'id' | 'sessionId' | 'direction' | 'senderType'>,
  lineId: string,
): DomainEventMap['message.created'] {
  return {
    messageId: message.id,
    sessionId: message.sessionId,
    lineId,
    direction: message.direction,
    senderType: message.senderType,
  };
}

/**
 * `messageCreatedPayload` in SQL, for a statement that builds the payload itself (the batched ingest
 * statement): the same builder run over SQL expressions, so the fields are named once.
 */
export function messageCreatedPayloadSql(
  message: { id: string; sessionId: string; direction: string; senderType: string },
  lineId: string,
): string {
  const fields = Object.entries(messageCreatedPayload(message, lineId));
  return `jsonb_build_object(${fields.map(([key, expr]) => `'${key}', ${expr}`).join(', ')})`;
}

/** Emits `message.updated` for a change of a message (or, with no message, of a session's messages). */
export async function emitMessageUpdated(
  tx: Tx,
  target: { messageId: string | null; sessionId: string; lineId?: string },
  change: string,
): Promise<void> {
  const lineId = target.lineId ?? (await sessionRepository.byId(tx.db, target.sessionId))?.lineId;
  if (!lineId) return;
  tx.emit('message.updated', target.messageId ?? target.sessionId, {
    messageId: target.messageId ?? '',
    sessionId: target.sessionId,
    lineId,
    change,
  });
}
