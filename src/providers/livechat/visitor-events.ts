/**
 * What a visitor's widget receives on its stream `client:<channelId>:<visitorId>` (publications,
 * recovered after a reconnect) and what it posts. No runtime dependencies: the widget imports these
 * types.
 */

export interface VisitorAttachment {
  name: string | null;
  mimeType: string | null;
  size: number | null;
  /** A download link (a path on the server or an absolute URL); null while it is being stored. */
  url: string | null;
}

export interface VisitorMessage {
  id: string;
  sessionId: string | null;
  /** The visitor's own uuid for their message (what makes a resend be stored once). */
  clientMessageId: string | null;
  author: 'visitor' | 'operator' | 'bot' | 'system';
  /** The operator's name on their messages. */
  name: string | null;
  text: string | null;
  attachments: VisitorAttachment[];
  createdAt: string;
  /** Sort key within the visitor's history (older pages go below it). */
  cursor: string | null;
}

export type VisitorEvent =
  | { type: 'message'; message: VisitorMessage }
  | { type: 'typing'; name: string | null }
  | { type: 'read'; sessionId: string; readAt: string }
  | { type: 'assigned'; sessionId: string; operator: { id: string; name: string | null } }
  | { type: 'closed'; sessionId: string; closedAt: string; byClient: boolean };

/** `POST /livechat/:channelId/messages`: what the widget sends. */
export type VisitorCommand =
  /** `files`: ids from `POST /livechat/:channelId/files` (at most 5); `text` may then be left out. */
  | { event: 'message'; messageId: string; text?: string; files?: string[] }
  | { event: 'read'; messageId?: string }
  | { event: 'typing' }
  | { event: 'close' };

/** `POST /livechat/:channelId/files` (multipart, one part `file`): the stored upload. */
export interface VisitorUpload {
  /** What a message names in `files` (valid only for the visitor who uploaded it). */
  id: string;
  name: string | null;
  /** What the bytes are, sniffed (one of the config's `uploadTypes`). */
  mimeType: string;
  size: number;
  /** A signed download link (expires). */
  url: string;
}
