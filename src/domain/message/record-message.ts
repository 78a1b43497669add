/**
 * The one recipe for storing a message: insert it, touch its session's counters and timers, give its
 * stored files to the session, enqueue its jobs and emit `message.created`, all in the caller's transaction. Inbound (the general path),
 * an operator's or bot's reply and a system message use it; the batched ingest statement
 * (message-batch.repository.ts) is the same recipe for the common inbound case, in one statement.
 *
 * An internal note (desk.service.ts) takes it too, untouched and with no job: it is never sent.
 * System messages (the outside-hours auto-reply) do not touch the session: they are not conversation
 * activity, so they neither reorder an operator's list by last message nor count as unread by the
 * client, and they never answer the client (no first-answer or answer time).
 */
import type { messages } from '../../db/schema.ts';
import type { Tx } from '../../db/unit-of-work.ts';
import { fileRepository } from '../../files/file.repository.ts';
import { jobRepository } from '../../jobs/job.repository.ts';
import { sessionRepository } from '../session/session.repository.ts';
import { messageCreatedPayload } from './message.events.ts';
import { type MessageRow, messageRepository } from './message.repository.ts';

export interface MessageJob {
  kind: string;
  payload: Record<string, unknown>;
  maxAttempts: number;
}

export interface RecordMessageInput {
  session: { id: string; lineId: string };
  values: Omit<typeof messages.$inferInsert, 'sessionId' | 'createdAt' | 'updatedAt'>;
  at: Date;
  /** How the session is touched; false for a system message (see above). */
  touch: { byOperator: boolean; operatorId?: string | null } | false;
  /** The jobs of the stored message (its id is known only then). */
  jobs?: (message: MessageRow) => MessageJob[];
  /** Files already in the store that the message carries: they belong to its session from now on. */
  files?: string[];
  /** Skip a message whose (channel, direction, external id) is stored: returns undefined. */
  unlessDuplicate?: boolean;
}

export async function recordMessage(tx: Tx, input: RecordMessageInput): Promise<MessageRow | undefined> {
  const values = { ...input.values, sessionId: input.session.id, createdAt: input.at, updatedAt: input.at };
  const message = input.unlessDuplicate
    ? await messageRepository.insertUnlessDuplicate(tx.db, values)
    : await messageRepository.insert(tx.db, values);
  if (!message) return undefined;
  if (input.touch) {
    await sessionRepository.touchOnMessage(tx.db, input.session.id, {
      direction: message.direction as 'incoming' | 'outgoing',
      at: input.at,
      ...input.touch,
    });
  }
  if (input.files?.length) await fileRepository.attachToSession(tx.db, input.files, input.session.id);
  for (const job of input.jobs?.(message) ?? []) {
    await jobRepository.enqueue(tx.db, job.kind, job.payload, { maxAttempts: job.maxAttempts });
  }
  tx.emit('message.created', message.id, messageCreatedPayload(message, input.session.lineId));
  return message;
}
