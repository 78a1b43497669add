/**
 * The one recipe for storing a message: insert it, touch its session's counters and timers, give its
 * stored files to the session, enqueue its jobs and emit `message.created`, all in the caller's transaction. Inbound (the general path),
 * an operator's or bot's reply and a system message use it; the batched ingest statement
 * (message-batch.repository.ts) is the same recipe for the common inbound case, in one statement.
 *
 * `recordMessages` is the same recipe for many messages in one transaction, in multi-row statements
 * (the poller's batch of mail: one insert, one counter update, one jobs insert, one events insert).
 *
 * An internal note (desk.service.ts) takes it too, untouched and with no job: it is never sent.
 * System messages (the outside-hours auto-reply) do not touch the session: they are not conversation
 * activity, so they neither reorder an operator's list by last message nor count as unread by the
 * client, and they never answer the client (no first-answer or answer time).
 */
import { randomUUID } from 'node:crypto';
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

/**
 * recordMessage for many messages in the caller's transaction, in multi-row statements; one result
 * per input, in order. A message whose (channel, direction, external id) is stored is skipped
 * (undefined), as `unlessDuplicate` does. Client messages' session counters go in one
 * statement; any other touch is the per-message rule.
 */
export async function recordMessages(
  tx: Tx,
  inputs: readonly RecordMessageInput[],
): Promise<(MessageRow | undefined)[]> {
  if (inputs.length === 0) return [];
  // Ids made here find each input's row among those returned (a duplicate returns none).
  const values = inputs.map((input) => ({
    ...input.values,
    id: input.values.id ?? randomUUID(),
    sessionId: input.session.id,
    createdAt: input.at,
    updatedAt: input.at,
  }));
  const stored = new Map(
    (await messageRepository.insertManyUnlessDuplicate(tx.db, values)).map((row) => [row.id, row]),
  );
  const results = values.map((v) => stored.get(v.id));
  const counts = new Map<string, { sessionId: string; n: number; firstAt: Date; lastAt: Date }>();
  const jobs: MessageJob[] = [];
  for (const [i, input] of inputs.entries()) {
    const message = results[i];
    if (!message) continue;
    if (input.touch && message.direction === 'incoming') {
      const c = counts.get(input.session.id);
      if (c) {
        c.n++;
        if (input.at < c.firstAt) c.firstAt = input.at;
        if (input.at > c.lastAt) c.lastAt = input.at;
      } else
        counts.set(input.session.id, {
          sessionId: input.session.id,
          n: 1,
          firstAt: input.at,
          lastAt: input.at,
        });
    } else if (input.touch) {
      await sessionRepository.touchOnMessage(tx.db, input.session.id, {
        direction: message.direction as 'incoming' | 'outgoing',
        at: input.at,
        ...input.touch,
      });
    }
    if (input.files?.length) await fileRepository.attachToSession(tx.db, input.files, input.session.id);
    jobs.push(...(input.jobs?.(message) ?? []));
    tx.emit('message.created', message.id, messageCreatedPayload(message, input.session.lineId));
  }
  await sessionRepository.countIncoming(tx.db, [...counts.values()]);
  await jobRepository.enqueueMany(tx.db, jobs);
  return results;
}
