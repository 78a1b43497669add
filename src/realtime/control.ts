/**
 * Node-to-node control messages: `disconnect`, `subscribe`, `unsubscribe` and `push` of users or
 * clients are published through the broker and executed by every node on the connections it holds.
 */

/**
 * Whose connections: all of a user's (optionally only one login's, or but one client, or but one
 * login's), or one client's. On every node.
 */
export type Target =
  | { user: string; login?: string; exceptClient?: string; exceptLogin?: string }
  | { client: string };

export type Control =
  | { op: 'disconnect'; target: Target; code: number; reason: string }
  | { op: 'subscribe' | 'unsubscribe'; target: Target; channel: string }
  /** A publication for these connections only: outside the channel's stream (no offset, no history). */
  | { op: 'push'; target: Target; channel: string; data: string };

const isStr = (v: unknown): v is string => typeof v === 'string';

function isTarget(t: unknown): t is Target {
  if (typeof t !== 'object' || t === null) return false;
  const r = t as Record<string, unknown>;
  if ('client' in r) return isStr(r.client);
  return (
    isStr(r.user) &&
    (r.login === undefined || isStr(r.login)) &&
    (r.exceptClient === undefined || isStr(r.exceptClient)) &&
    (r.exceptLogin === undefined || isStr(r.exceptLogin))
  );
}

/** null for anything malformed (a message from another version or another application). */
export function decodeControl(message: string): Control | null {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(message) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof m !== 'object' || m === null || !isTarget(m.target)) return null;
  if (m.op === 'disconnect') {
    const code = m.code;
    const valid = typeof code === 'number' && Number.isInteger(code) && code >= 3000 && code <= 4999;
    return valid && isStr(m.reason) ? (m as unknown as Control) : null;
  }
  if (m.op === 'subscribe' || m.op === 'unsubscribe')
    return isStr(m.channel) ? (m as unknown as Control) : null;
  if (m.op === 'push') return isStr(m.channel) && isStr(m.data) ? (m as unknown as Control) : null;
  return null;
}
