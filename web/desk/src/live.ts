/**
 * Live events over the Centrifugo protocol, connected exactly as the operator-events document
 * shows: the official `centrifuge` SDK, `data: { application: 'notifications', settings: { token } }`,
 * `on('publication')` switching on `publication.data.event`. The personal channel is a server-side
 * subscription; supervisors also subscribe to their lines' channels. A reconnect the server could
 * not recover (`recovered: false`) reloads the lists from REST — never a silently stale screen.
 */
import { Centrifuge, type PublicationContext } from 'centrifuge';
import { api } from './api';
import { notifyNewSession } from './notify';
import { store } from './store';
import type { Chat, Message } from './types';

let centrifuge: Centrifuge | null = null;

const TERMINAL: Record<number, 'blocked' | 'signedInElsewhere' | 'loggedOut' | 'tokenExpired'> = {
  4501: 'blocked',
  4502: 'signedInElsewhere',
  4503: 'loggedOut',
  4504: 'loggedOut',
  3500: 'tokenExpired',
};

export function connectLive(token: string): void {
  disconnectLive();
  const protocol = window.location.protocol === 'https:' ? 'wss' : 'ws';
  const c = new Centrifuge(`${protocol}://${window.location.host}/centrifugo/connection/websocket`, {
    data: { application: 'notifications', settings: { token } },
  });
  centrifuge = c;
  let connectedOnce = false;
  c.on('connecting', () => {
    if (connectedOnce) store.connection = 'unreachable';
    store.changed();
  });
  c.on('connected', () => {
    // Back after the server was unreachable: the lists are read again from REST, whatever the
    // history replays — never a silently stale screen.
    const wasUnreachable = store.connection === 'unreachable';
    store.connection = 'connected';
    store.changed();
    if (!connectedOnce) {
      connectedOnce = true;
      void subscribeLines(c);
    } else if (wasUnreachable) void reloadAfterGap();
  });
  c.on('disconnected', (ctx) => {
    const ended = TERMINAL[ctx.code];
    if (ended) store.end(ended);
  });
  // The personal channel (server-side): after a reconnect, missed events are replayed, or the
  // server says it could not (recovered: false) and the lists are read again.
  c.on('subscribed', (ctx) => {
    if (ctx.wasRecovering && !ctx.recovered) void reloadAfterGap();
  });
  c.on('publication', (ctx) => handle(ctx.data as LiveEvent));
  c.connect();
}

export function disconnectLive(): void {
  centrifuge?.disconnect();
  centrifuge = null;
}

/** Sends typing to the client (`rpc('typing')`); at most once per 3 s per session. */
const lastTyping = new Map<string, number>();
export function sendTyping(sessionId: string): void {
  const now = Date.now();
  if (!centrifuge || (lastTyping.get(sessionId) ?? 0) > now - 3000) return;
  lastTyping.set(sessionId, now);
  centrifuge.rpc('typing', { sessionId }).catch(() => {});
}

async function reloadAfterGap(): Promise<void> {
  await store.reload().catch((err) => store.fail(err));
  store.notice = 'reloaded';
  store.changed();
}

async function subscribeLines(c: Centrifuge): Promise<void> {
  const role = store.user?.role;
  if (role !== 'supervisor' && role !== 'admin') return;
  const lines = await api<{ items: { id: string }[] }>('POST', '/lines/search', { size: 100 }).catch(
    () => null,
  );
  for (const line of lines?.items ?? []) {
    const sub = c.newSubscription(`line:${line.id}`);
    sub.on('publication', (ctx: PublicationContext) => handle(ctx.data as LiveEvent));
    sub.on('subscribed', (ctx) => {
      if (ctx.wasRecovering && !ctx.recovered) void reloadAfterGap();
    });
    sub.subscribe();
  }
}

interface LiveEvent {
  event: string;
  data: Record<string, unknown>;
}

function handle(e: LiveEvent): void {
  const d = e.data ?? {};
  const sessionId = String(d.sessionId ?? d.chatId ?? d.id ?? '');
  switch (e.event) {
    case 'chatSessionStarted':
    case 'chatSessionAdded':
    case 'chatSessionSwitchedFromBotToOperator': {
      const known = store.chats.get(String(d.id));
      // Shown at once from the event's session view, then completed from REST.
      store.place({ ...placeholder(d), ...known, ...(d as unknown as Partial<Chat>) } as Chat);
      if (!known || store.where.get(String(d.id)) !== 'mine') notifyNewSession(String(d.name ?? ''));
      void store.refreshChat(String(d.id));
      if (store.selected === d.id) void store.refreshConversation();
      break;
    }
    case 'chatSessionDeleted': {
      // An ended offer or a session gone from the queue only leaves those lists: the line channel
      // also says so when the one who took it is this very desk.
      const listed = store.where.get(sessionId);
      if ((d.reason === 'offer' || d.reason === 'dequeued') && listed !== 'offers' && listed !== 'queue')
        break;
      store.remove(sessionId);
      if (store.selected === sessionId) void store.refreshConversation();
      break;
    }
    case 'operatorNotFound':
      void store.refreshChat(sessionId);
      break;
    case 'chatMessageCreated':
    case 'chatMessageEdited':
    case 'chatMessageStatusChanged': {
      const message = d.message as Message;
      if (!store.chats.has(message.sessionId)) void store.refreshChat(message.sessionId);
      store.upsertMessage(message);
      if (message.direction === 'incoming') store.typing.delete(message.sessionId);
      break;
    }
    case 'chatMessageRead':
      store.markRead(sessionId, String(d.readAt));
      break;
    case 'sessionClosedByClient':
      void store.refreshChat(sessionId);
      if (store.selected === sessionId) void store.refreshConversation();
      break;
    case 'typing':
      if (d.from === 'client') store.clientTyping(sessionId);
      break;
    case 'clientOnline':
    case 'clientOffline':
      break;
    case 'operatorStatusChanged':
      store.status = d.status as typeof store.status;
      store.changed();
      break;
    case 'chatUserExists':
      store.end('signedInElsewhere');
      disconnectLive();
      break;
    case 'operatorBlocked':
      store.end('blocked');
      disconnectLive();
      break;
    case 'operatorLoggedOut':
      store.end('loggedOut');
      disconnectLive();
      break;
    default:
      console.warn('Unknown event type:', e.event);
  }
}

function placeholder(d: Record<string, unknown>): Partial<Chat> {
  return {
    priority: 'Medium',
    offered: d.status === 'Waiting',
    accepted: false,
    queuedAt: String(d.startedAt ?? ''),
    awaitingAnswerSince: null,
    closedAt: null,
    lineId: '',
    channelId: '',
  };
}
