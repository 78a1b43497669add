/**
 * The router's order (the server's desk.service.ts `sortChats`, mirrored for live updates):
 * priority High → Low, then waiting longest (in the queue or for an answer), then latest activity.
 */
import type { Chat, Priority } from './types';

const RANK: Record<Priority, number> = { Low: 0, Medium: 1, High: 2 };

export function byRouterOrder(a: Chat, b: Chat): number {
  const wa = a.awaitingAnswerSince ?? a.queuedAt ?? '9999';
  const wb = b.awaitingAnswerSince ?? b.queuedAt ?? '9999';
  return (
    RANK[b.priority] - RANK[a.priority] ||
    wa.localeCompare(wb) ||
    (b.lastMessageCreatedAt ?? '').localeCompare(a.lastMessageCreatedAt ?? '')
  );
}

export function byClosedDesc(a: Chat, b: Chat): number {
  return (b.closedAt ?? '').localeCompare(a.closedAt ?? '');
}
