/**
 * What the REST API answers, as the SDK's own types: the package stands alone (nothing of the
 * server is imported, not even types). test/sdk/types-agree.test.ts checks that each one agrees with
 * the server's OpenAPI schema (src/http/schemas.ts) and event catalogue, so they cannot drift apart.
 */
import type { LineChannelState, LineSessionPriority, LineSessionState } from './enums.ts';

interface RecordTimes {
  createdAt: string;
  updatedAt: string;
  /** Records are soft-deleted: set once deleted (deleted records are hidden unless a filter names this). */
  deletedAt: string | null;
}

export type Role = 'admin' | 'supervisor' | 'operator' | 'bot';

export interface LineView extends RecordTimes {
  id: string;
  name: string;
  /** `applicationType`: the application (CRM record type) the line's clients may be linked to. */
  settings: { applicationType: string | null };
  /** Queue settings (routing): free-form. */
  queue: object;
  operatorIds: string[];
  groupIds: string[];
  botId: string | null;
}

export interface ChannelView extends RecordTimes {
  id: string;
  lineId: string;
  name: string;
  /** A LineChannelType, or a plugin provider's type. */
  type: string;
  state: LineChannelState;
  stateReason: string | null;
  source: string | null;
  /** Secret values come back masked. */
  settings: { [key: string]: unknown };
}

export interface ApplicationItemView {
  type: string;
  id: string;
}

export interface ClientView extends RecordTimes {
  id: string;
  channelId: string;
  externalId: string;
  username: string | null;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  email: string | null;
  avatarUrl: string | null;
  applicationItem: ApplicationItemView | null;
  banned: boolean;
  online: boolean;
  lastSeenAt: string | null;
}

export interface ContactView extends RecordTimes {
  id: string;
  name: string;
  phones: string[];
  emails: string[];
  notes: string | null;
  mergedIntoId: string | null;
}

export interface ActorView {
  type: 'admin' | 'supervisor' | 'operator' | 'bot' | 'client' | 'system';
  id: string | null;
}

export interface SessionView extends RecordTimes {
  id: string;
  lineId: string;
  channelId: string;
  clientIds: string[];
  state: LineSessionState;
  markedAsSpam: boolean;
  priority: LineSessionPriority;
  operatorId: string | null;
  operatorGroupId: string | null;
  botId: string | null;
  previousSessionId: string | null;
  /** What the conversation is about: an e-mail thread's subject; null elsewhere. */
  title: string | null;
  startedAt: string;
  operatorAssignedAt: string | null;
  firstAnswerAt: string | null;
  lastMessageAt: string | null;
  closedAt: string | null;
  closedBy: ActorView | null;
  unreadClientMessageCount: number;
  unreadOperatorMessageCount: number;
}

export type MessageDirection = 'incoming' | 'outgoing';
export type MessageType =
  | 'text'
  | 'image'
  | 'file'
  | 'audio'
  | 'video'
  | 'location'
  | 'contact'
  | 'system'
  | 'note';
export type MessageStatus = 'pending' | 'sent' | 'delivered' | 'read' | 'failed';
export type SenderType = 'client' | 'operator' | 'bot' | 'system';

export interface MessageView extends RecordTimes {
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
  /** The message's place in its session's list (`GET /sessions/:id/messages?cursor=`). */
  cursor: string;
}

export interface GroupView {
  id: string;
  name: string;
  memberIds: string[];
  createdAt: string;
  updatedAt: string;
}

export interface BotView {
  id: string;
  name: string;
  /** Secret values come back masked. */
  settings: { [key: string]: unknown };
  createdAt: string;
  updatedAt: string;
}

export interface FullUserView extends RecordTimes {
  id: string;
  login: string;
  name: string;
  role: Role;
  blocked: boolean;
}
/** Admins see users whole; other staff see colleagues' id, name and role. */
export type UserView = FullUserView | Pick<FullUserView, 'id' | 'name' | 'role'>;

export interface TimeStats {
  count: number;
  avgSeconds: number | null;
}
export interface PercentileStats extends TimeStats {
  p90Seconds: number | null;
}
export interface OperatorMetrics {
  operatorId: string;
  name: string | null;
  sessionsHandled: number;
  firstAnswer: TimeStats;
  nextAnswer: TimeStats;
  handling: TimeStats;
}

/** `GET /lines/:id/metrics`: spam sessions are left out (see the README's metrics definitions). */
export interface LineMetrics {
  lineId: string;
  from: string;
  to: string;
  /** The moment the queue was read. */
  now: string;
  sessions: {
    byState: Record<LineSessionState, number>;
    new: number;
    closed: number;
    spam: number;
  };
  firstAnswer: PercentileStats;
  nextAnswer: PercentileStats;
  handling: TimeStats;
  operators: OperatorMetrics[];
  queue: { length: number; longestWaitSeconds: number | null };
  /** Satisfaction ratings (CSAT, 1–5) given in the range, spam excluded. */
  csat: { count: number; average: number | null; byRating: Record<'1' | '2' | '3' | '4' | '5', number> };
}

/** A page of a search: `total` counts every match, not only this page's. */
export interface Page<V> {
  items: V[];
  total: number;
}
