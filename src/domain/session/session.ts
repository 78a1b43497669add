/** Session vocabulary (LineSessionState, LineSessionPriority). */
export const SESSION_STATES = [
  'Waiting',
  'AssignedToBot',
  'AssignedToOperator',
  'Closed',
  'MarkedAsSpam',
] as const;
export type SessionState = (typeof SESSION_STATES)[number];

/** States in which a session is open: at most one per client per channel. */
export const OPEN_SESSION_STATES: readonly SessionState[] = [
  'Waiting',
  'AssignedToBot',
  'AssignedToOperator',
];

export const PRIORITIES = ['Low', 'Medium', 'High'] as const;
export type Priority = (typeof PRIORITIES)[number];

export function priorityRank(p: Priority): number {
  return PRIORITIES.indexOf(p);
}

export function priorityName(rank: number): Priority {
  return PRIORITIES[rank] ?? 'Medium';
}

export function isOpen(state: SessionState): boolean {
  return OPEN_SESSION_STATES.includes(state);
}
