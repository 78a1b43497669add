/** What the desk reads from the API and the live events (see the server's desk.route.ts and operator-events.ts). */
export interface Attachment {
  fileId: string | null;
  name: string | null;
  mimeType: string | null;
  size: number | null;
}

export interface Message {
  id: string;
  sessionId: string;
  direction: 'incoming' | 'outgoing';
  type: string;
  text: string | null;
  attachments: Attachment[];
  sender: { type: string; id: string | null };
  status: 'pending' | 'sent' | 'delivered' | 'read' | 'failed';
  error: { code: string; message: string } | null;
  editedAt: string | null;
  readAt: string | null;
  createdAt: string;
  cursor: string;
}

export type Priority = 'Low' | 'Medium' | 'High';

export interface Chat {
  id: string;
  name: string;
  channel: string;
  status: string;
  lineId: string;
  channelId: string;
  clientId: string | null;
  operatorId: string | null;
  priority: Priority;
  offered: boolean;
  accepted: boolean;
  startedAt: string;
  queuedAt: string | null;
  awaitingAnswerSince: string | null;
  closedAt: string | null;
  lastMessageCreatedAt: string | null;
  lastMessage?: Message | null;
  unreadClientMessageCount?: number | null;
  clientOnlineAt?: string | null;
  markedAsSpam: boolean;
}

export interface User {
  id: string;
  login: string;
  name: string;
  role: 'admin' | 'supervisor' | 'operator' | 'bot';
}

export type OperatorStatus = 'online' | 'busy' | 'away' | 'offline';
