/**
 * The operator live events `System.live.connect()` delivers, one type per event (vendor document
 * 002, plus the few of ours marked so). This is the one declaration of the catalogue: the server
 * (src/live/operator-events.ts) re-exports these types and builds its payloads against them.
 *
 * Every payload carries `event`; those the document keys by `action` (operatorNotFound,
 * clientOffline, clientOnline) carry `action` too.
 */
import type { MessageView } from './views.ts';

export interface ClientCoordinates {
  city?: string | null;
  latitude?: number | null;
  zip_code?: string | null;
  longitude?: number | null;
  time_zone?: string | null;
  region_name?: string | null;
  country_code?: string | null;
  country_name?: string | null;
}

/** The session as the operator workspace shows it (the shape of chatSessionStarted's data). */
export interface ChatSession {
  id: string;
  chatId: string;
  clientId: string | null;
  name: string;
  markedAsSpam: boolean;
  operatorId: string | number | null;
  operatorType?: string;
  /** The channel type (telegramBot, whatsapp, api…). */
  channel: string;
  /** BOT while a bot has it, HELP while nobody was found, OFFERED while offered, null otherwise. */
  botStatus?: string | null;
  /** The session state (Waiting, AssignedToBot, AssignedToOperator, Closed, MarkedAsSpam). */
  status: string;
  startedAt: string;
  clientOnlineAt?: string | null;
  clientOfflineAt?: string | null;
  lastMessageCreatedAt: string | null;
  lastMessage?: MessageView | null;
  clientExternalId?: string | null;
  clientBanned?: boolean | null;
  referer?: string;
  /** Not in the vendor document: the page a live-chat visitor writes from. */
  pageUrl?: string | null;
  clientIp?: string | null;
  coordinates?: ClientCoordinates | null;
  unreadClientMessageCount?: number | null;
  unreadClientMessageExists?: boolean | null;
  messengerType?: string | null;
  whatsappPhone?: string | null;
  /** Seconds the first answer took, or has been awaited so far. */
  timerFirstAnswer?: number;
  /** Seconds the client has been waiting for the next answer (0 when answered). */
  timerNextAnswers?: number;
  lastOperatorMessage?: MessageView | null;
  firstClientMessageAfterLastOperatorMessage?: MessageView | null;
  operatorAssignedAt: string | null;
  previousOperator?: { id?: string | null; name?: string | null } | null;
}

export interface ChatSessionStarted {
  event: 'chatSessionStarted';
  data: ChatSession;
}

export interface OperatorNotFound {
  event: 'operatorNotFound';
  action: 'operatorNotFound';
  data: { botStatus: string; chatId: string; operatorType: string; sessionId: string; status: string };
}

export interface ChatSessionAdded {
  event: 'chatSessionAdded';
  data: ChatSession;
}

export interface ChatMessageCreated {
  event: 'chatMessageCreated';
  data: { chatId: string; sessionId: string; message: MessageView };
}

export interface ChatMessageEdited {
  event: 'chatMessageEdited';
  data: { chatId: string; sessionId: string; message: MessageView };
}

/** Ours, not in the vendor catalogue: an outgoing message's delivery status changed (sent, delivered, failed). */
export interface ChatMessageStatusChanged {
  event: 'chatMessageStatusChanged';
  data: { chatId: string; sessionId: string; message: MessageView };
}

export interface ChatMessageRead {
  event: 'chatMessageRead';
  data: { chatId: string; sessionId: string; readAt: string };
}

/**
 * The session leaves the receiver's lists. `reason`: `bot` (a bot has it now), `queue` (returned to
 * the queue), `transfer` (another operator has it), `offer` (the offer to the receiver ended),
 * `dequeued` (it left the queue the receiver had it listed in: taken, closed, given to a bot).
 */
export interface ChatSessionDeleted {
  event: 'chatSessionDeleted';
  data: { chatId: string; sessionId: string; reason: string };
}

export interface ChatSessionSwitchedFromBotToOperator {
  event: 'chatSessionSwitchedFromBotToOperator';
  data: ChatSession;
}

export interface SessionClosedByClient {
  event: 'sessionClosedByClient';
  data: { chatId: string; sessionId: string; closedAt: string };
}

export interface OperatorBlocked {
  event: 'operatorBlocked';
  data: { operatorId: string };
}

/**
 * Pushed only to the workspaces it closes (an older login of the operator), never to the new login
 * and never kept in the channel's history. `clientId` is the new login's connection, or null when
 * the connection told is an older login that came back while a newer one holds the workspace.
 */
export interface ChatUserExists {
  event: 'chatUserExists';
  data: { operatorId: string; clientId: string | null };
}

export interface Typing {
  event: 'typing';
  data: { chatId: string; sessionId: string; from: 'client' | 'operator'; userId: string | null };
}

export interface OperatorLoggedOut {
  event: 'operatorLoggedOut';
  data: { operatorId: string };
}

export interface ClientOnline {
  event: 'clientOnline';
  action: 'clientOnline';
  data: { id: string; sessionId: string | null };
}

export interface ClientOffline {
  event: 'clientOffline';
  action: 'clientOffline';
  data: { id: string; sessionId: string | null };
}

/** Not in the vendor catalogue: an operator's status changed (presence). */
export interface OperatorStatusChanged {
  event: 'operatorStatusChanged';
  data: { operatorId: string; status: string; previous: string };
}

export type OperatorEvent =
  | ChatSessionStarted
  | OperatorNotFound
  | ChatSessionAdded
  | ChatMessageCreated
  | ChatMessageEdited
  | ChatMessageStatusChanged
  | ChatMessageRead
  | ChatSessionDeleted
  | ChatSessionSwitchedFromBotToOperator
  | SessionClosedByClient
  | OperatorBlocked
  | ChatUserExists
  | Typing
  | OperatorLoggedOut
  | ClientOnline
  | ClientOffline
  | OperatorStatusChanged;

export type OperatorEventName = OperatorEvent['event'];
