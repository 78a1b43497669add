import type { Tx } from '../../db/unit-of-work.ts';
import { sessionRepository } from '../session/session.repository.ts';

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
