/**
 * One client connection and the write path shared by all of them.
 *
 * Memory matters (10,000 idle connections within ~20 KB each, most of it the socket's): a connection
 * is one small object with numbers and at most one Map; it owns no timers and no closures — the
 * socket's listeners are shared functions that find the connection through `socket.conn`.
 */
import { WebSocket } from 'ws';
import type { GatewayUser } from './options.ts';

/** Connection states. */
export const OPEN = 0; // socket open, waiting for connect
export const CONNECTING = 1; // connect being authenticated / subscribed
export const CONNECTED = 2;
export const FAILED = 3; // connect answered with an error: only a close may follow
export const CLOSED = 4;

/** Subscription flags (values of `Connection.subs`). */
export const SUB_SERVER = 1; // server-side: announced in the connect reply or by a subscribe push
export const SUB_LIVE = 2; // receives publications directly (else still buffering during subscribe)

/** The `ws` socket class the gateway's server creates, carrying its connection. */
export class GatewaySocket extends WebSocket {
  conn: Connection | null = null;
}

export class Connection {
  state = OPEN;
  /** Assigned on a successful connect. */
  client = '';
  user: GatewayUser | null = null;
  /** channel → SUB_* flags; null until the first subscription. */
  subs: Map<string, number> | null = null;
  /** Output written this tick: one shared frame, or the `\n`-joined text of several. */
  out: string | Shared | null = null;
  /** A command is in progress; frames arriving meanwhile wait in `inbox`, in order. */
  busy = false;
  inbox: string[] | null = null;
  nextPingAt = 0;
  /** When a ping is unanswered: close with "no pong" after this time (0 = nothing awaited). */
  pongDeadline = 0;
  /** Command rate window. */
  rateStart = 0;
  rateCount = 0;
  /** The upgrade request's Origin header (clients of a website are checked against it). */
  origin: string | undefined = undefined;

  constructor(
    readonly socket: GatewaySocket,
    readonly openedAt: number,
  ) {}

  subscriptionCount(): number {
    return this.subs === null ? 0 : this.subs.size;
  }
}

/** Text encoded once and written to many sockets: the same bytes go to every recipient. */
export class Shared {
  private bytes: Buffer | null = null;
  constructor(readonly text: string) {}
  buffer(): Buffer {
    if (this.bytes === null) this.bytes = Buffer.from(this.text);
    return this.bytes;
  }
}

/** A publication push, with its position so a subscribing connection can merge what it buffered. */
export class PubPush extends Shared {
  constructor(
    text: string,
    readonly offset: number,
    readonly epoch: string,
  ) {
    super(text);
  }
}

const TEXT_FRAME = { binary: false } as const;

/**
 * Batches every write of one event-loop turn into one WebSocket frame per connection
 * (`\n`-separated), flushed in `setImmediate`.
 */
export class Outbox {
  private dirty: Connection[] = [];
  private spare: Connection[] = [];
  private scheduled = false;

  constructor(
    private readonly maxBufferedBytes: number,
    private readonly onSlow: (conn: Connection) => void,
  ) {}

  write(conn: Connection, msg: string | Shared): void {
    if (conn.state === CLOSED) return;
    const out = conn.out;
    if (out === null) {
      conn.out = msg;
      this.dirty.push(conn);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flushAll);
      }
    } else {
      conn.out = `${typeof out === 'string' ? out : out.text}\n${typeof msg === 'string' ? msg : msg.text}`;
    }
  }

  /** Writes a connection's pending output now (before closing it, so its last replies go out). */
  flush(conn: Connection): void {
    const out = conn.out;
    if (out === null) return;
    conn.out = null;
    const socket = conn.socket;
    if (socket.readyState !== WebSocket.OPEN) return;
    if (typeof out === 'string') socket.send(out);
    else socket.send(out.buffer(), TEXT_FRAME);
    if (socket.bufferedAmount > this.maxBufferedBytes) this.onSlow(conn);
  }

  private readonly flushAll = (): void => {
    this.scheduled = false;
    const list = this.dirty;
    this.dirty = this.spare;
    for (let i = 0; i < list.length; i++) {
      const conn = list[i]!;
      if (conn.state !== CLOSED) this.flush(conn);
      else conn.out = null;
    }
    list.length = 0;
    this.spare = list;
  };
}
