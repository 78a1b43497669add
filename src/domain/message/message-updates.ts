/**
 * Every change of a stored message after recordMessage (record-message.ts) created it — sent,
 * failed, a delivery status the messenger reports, an edit, an attachment that arrived, a read by
 * either side — written together with its `message.updated` event in the caller's transaction. This
 * is the one writer of a message's later state: the pipeline, the jobs and the workspace call it and
 * never pair an update with an event themselves.
 */
import type { Tx } from '../../db/unit-of-work.ts';
import { jobRepository } from '../../jobs/job.repository.ts';
import { sessionRepository } from '../session/session.repository.ts';
import { emitMessageUpdated } from './message.events.ts';
import { type MessageRow, messageRepository } from './message.repository.ts';

/** The session a change belongs to, when the caller has it (saves a read for the line). */
interface SessionRef {
  id: string;
  lineId: string;
}

type Attachment = MessageRow['attachments'][number];

/** Delivery statuses only move forward; `failed` may come at any time. */
const DELIVERY_ORDER = ['pending', 'sent', 'delivered', 'read'];

export const messageUpdates = {
  /** The messenger took a pending message, under its own id there. False when it was not pending. */
  async sent(tx: Tx, message: MessageRow, session: SessionRef, externalId: string): Promise<boolean> {
    if (!(await messageRepository.markSent(tx.db, message.id, externalId))) return false;
    await emitMessageUpdated(
      tx,
      { messageId: message.id, sessionId: session.id, lineId: session.lineId },
      'sent',
    );
    return true;
  },

  /** The message cannot be delivered: `failed`, with the reason kept for the operator. */
  async failed(
    tx: Tx,
    message: MessageRow,
    session: SessionRef | null,
    error: { code: string; message: string },
  ): Promise<void> {
    await messageRepository.update(tx.db, message.id, { status: 'failed', error });
    await emitMessageUpdated(
      tx,
      { messageId: message.id, sessionId: message.sessionId, lineId: session?.lineId },
      'failed',
    );
  },

  /**
   * A status the messenger reports for an outgoing message. Applied only when it moves the message
   * forward (a late `delivered` after `read` is ignored); returns whether it was applied.
   */
  async delivery(
    tx: Tx,
    message: MessageRow,
    report: { status: 'delivered' | 'read' | 'failed'; at: Date; error?: string | null },
  ): Promise<boolean> {
    if (report.status === 'failed') {
      await this.failed(tx, message, null, {
        code: 'DELIVERY_FAILED',
        message: report.error ?? 'the messenger reported a failure',
      });
      return true;
    }
    if (DELIVERY_ORDER.indexOf(report.status) <= DELIVERY_ORDER.indexOf(message.status)) return false;
    await messageRepository.update(tx.db, message.id, {
      status: report.status,
      ...(report.status === 'read' && { readAt: report.at }),
    });
    await emitMessageUpdated(tx, { messageId: message.id, sessionId: message.sessionId }, report.status);
    return true;
  },

  /**
   * The text of a message changed: the client edited theirs, or staff edited a message sent from
   * here (then `resend` queues the edit for the messenger, once the message was sent at all).
   */
  async edited(
    tx: Tx,
    message: MessageRow,
    edit: { text: string | null; at: Date; resend?: { job: string; maxAttempts: number } },
  ): Promise<MessageRow> {
    const updated = (await messageRepository.update(tx.db, message.id, {
      text: edit.text,
      editedAt: edit.at,
    }))!;
    if (edit.resend && message.status !== 'pending') {
      await jobRepository.enqueue(
        tx.db,
        edit.resend.job,
        { messageId: message.id },
        { maxAttempts: edit.resend.maxAttempts },
      );
    }
    await emitMessageUpdated(tx, { messageId: message.id, sessionId: message.sessionId }, 'edited');
    return updated;
  },

  /**
   * An attachment of a message arrived in the file store: the message's attachment at `index` points
   * at the stored file. Under the row lock, so attachments of one message finishing together all land.
   */
  async attachmentStored(
    tx: Tx,
    messageId: string,
    lineId: string,
    index: number,
    file: { id: string; size: number; mimeType: string; name: string | null },
  ): Promise<void> {
    const locked = await messageRepository.lockById(tx.db, messageId);
    const current = locked?.attachments[index];
    if (!locked || !current) return;
    const list: Attachment[] = [...locked.attachments];
    list[index] = {
      ...current,
      fileId: file.id,
      size: file.size,
      mimeType: file.mimeType,
      name: current.name ?? file.name,
      ref: null,
    };
    await messageRepository.update(tx.db, messageId, { attachments: list });
    await emitMessageUpdated(tx, { messageId, sessionId: locked.sessionId, lineId }, 'attachment');
  },

  /**
   * The client read what we sent in the session, up to the message `upToSeq` (everything when null;
   * with `createdUpTo`, only what was written by then — a read watermark):
   * those messages become `read` and nothing counts as unread by the client.
   */
  async readByClient(
    tx: Tx,
    session: SessionRef,
    upToSeq: number | null,
    at: Date,
    opts: { createdUpTo?: Date | null } = {},
  ): Promise<void> {
    const n = await messageRepository.markOutgoingRead(tx.db, session.id, upToSeq, at, opts);
    await sessionRepository.resetUnread(tx.db, session.id, 'client');
    if (n > 0)
      await emitMessageUpdated(
        tx,
        { messageId: null, sessionId: session.id, lineId: session.lineId },
        'read',
      );
  },

  /** The operator read the client's messages of the session (MarkChatAsRead). */
  async readByOperator(tx: Tx, session: SessionRef, at: Date): Promise<void> {
    const n = await messageRepository.markIncomingRead(tx.db, session.id, at);
    await sessionRepository.resetUnread(tx.db, session.id, 'operator');
    if (n > 0) {
      await emitMessageUpdated(
        tx,
        { messageId: null, sessionId: session.id, lineId: session.lineId },
        'readByOperator',
      );
    }
  },
};
