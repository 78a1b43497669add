/**
 * Realtime gateway: the Centrifugo client protocol (JSON over WebSocket) served by this process, so
 * operator apps use the official `centrifuge` SDK against `/centrifugo/connection/websocket`.
 *
 * Design
 * - Files: protocol.ts + codes.ts (frame codec; error and disconnect codes) · broker.ts (stream
 *   interface, history arithmetic) · memory-broker.ts (one node) · redis-broker.ts + redis-scripts.ts
 *   (cluster) · channel-hub.ts (channel index, fan-out, subscribing at a position, gap detection) ·
 *   commands.ts (per-connection command loop) · connection.ts (connection state, batched writes) ·
 *   control.ts (node-to-node messages) · upgrade.ts (HTTP upgrade routing) · options.ts.
 * - Domain-free: who may connect/subscribe/publish, the server-side channels of a user (e.g.
 *   `operator:<id>`), RPC methods and hooks are plugged in (GatewayOptions, `rpc()`); domain events
 *   are published with `publish(channel, data)` and reach every node through the broker.
 * - Streams: every channel keeps a short history with offsets and an epoch. The SDK remembers its
 *   position and sends it when it reconnects; the connect reply (server-side subscriptions) or the
 *   subscribe reply then replays exactly what was missed (`recovered: true`), or says it cannot
 *   (`recovered: false`, never a partial replay) and the app reloads its state.
 * - Cross-node: publications go through the broker (Redis pub/sub when REDIS_URL is set), so a
 *   publication on node A reaches subscribers on node B; `disconnect`, `subscribe` and `unsubscribe`
 *   of users/clients travel as control messages to every node. If pub/sub loses messages, the hub
 *   notices (a hole in the offsets, or a resync after the Redis subscriber reconnects) and
 *   disconnects the channel's clients with 3010: they reconnect and recover from history.
 * - Server-side subscriptions are decided at connect (`serverSideChannels`); one added later with
 *   `subscribe()` lasts for that connection only, unless `serverSideChannels` returns it too.
 * - Presence hooks (`onConnect`/`onDisconnect`) are per node: a node that dies calls no
 *   `onDisconnect`, so cluster-wide presence needs a TTL on the application side.
 * - Fast path: a publication is encoded once per channel per node, and the same bytes are written to
 *   every subscriber; writes of one event-loop turn leave as one frame per connection.
 * - Small connections (~8–9 KB RSS idle, measured with 10,000): no timer per connection (one shared
 *   tick sends pings, detects missing pongs and stale sockets), no closure per connection or
 *   subscription, no compression.
 * - Guards: frame size (close 1009), command rate and queued frames (3013), slow consumers (3008),
 *   subscriptions per connection (error 106), connections per user (3504), connect within `staleMs`
 *   (3502), pong within `pongTimeoutMs` (3012), channel names ≤ 255 characters.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, type ServerOptions, type WebSocket, WebSocketServer } from 'ws';
import type { StreamPosition } from './broker.ts';
import { ChannelHub } from './channel-hub.ts';
import { CommandProcessor, type GatewayCore, type RpcHandler } from './commands.ts';
import { CLOSED, CONNECTED, CONNECTING, Connection, GatewaySocket, Outbox, Shared } from './connection.ts';
import { type Control, decodeControl, type Target } from './control.ts';
import { type GatewayOptions, type GatewayUser, type ResolvedOptions, resolveOptions } from './options.ts';
import { type Disconnect, Disconnects, encodePushOnly, PING_FRAME } from './protocol.ts';
import { closeReason, rejectUpgrade, type SocketSink, socketListeners } from './upgrade.ts';

export type { Target } from './control.ts';
export { attachGateway, GATEWAY_PATHS } from './upgrade.ts';

export interface ConnectionInfo {
  client: string;
  user: GatewayUser;
}

const PING = new Shared(PING_FRAME);

export class Gateway implements GatewayCore, SocketSink {
  /** JSON of published objects (they are not changed once published). */
  readonly #encoded = new WeakMap<object, string>();
  readonly opts: ResolvedOptions;
  readonly outbox: Outbox;
  readonly hub: ChannelHub;
  readonly rpcs = new Map<string, RpcHandler>();
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  private readonly users = new Map<string, Set<Connection>>();
  private readonly commands: CommandProcessor;
  private readonly ticker: NodeJS.Timeout;
  private closed = false;

  constructor(options: GatewayOptions) {
    const opts = resolveOptions(options);
    this.opts = opts;
    this.outbox = new Outbox(opts.maxBufferedBytes, (conn) => this.kick(conn, Disconnects.slow));
    this.hub = new ChannelHub(
      opts.broker,
      this.outbox,
      (conn) => this.kick(conn, Disconnects.insufficientState),
      opts.maxRecoveredPublications,
    );
    this.commands = new CommandProcessor(this);
    const wsOptions: ServerOptions & { closeTimeout: number } = {
      noServer: true,
      perMessageDeflate: false,
      clientTracking: false,
      maxPayload: opts.maxFrameBytes,
      WebSocket: GatewaySocket,
      closeTimeout: 5000, // a peer that never answers our Close frame is cut off after this
    };
    this.wss = new WebSocketServer(wsOptions);
    opts.broker.onControl((message) => this.onControl(message));
    opts.broker.onResync(() => {
      if (!this.closed) void this.hub.resync();
    });
    this.ticker = setInterval(this.tick, opts.tickMs).unref();
  }

  // ---- public API ------------------------------------------------------------------------------

  /** Hands an HTTP upgrade request to the gateway (see attachGateway for path routing). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closed) rejectUpgrade(socket, 503, 'Service Unavailable');
    else if (this.opts.checkOrigin && !this.opts.checkOrigin(req.headers.origin)) {
      rejectUpgrade(socket, 403, 'Forbidden');
    } else this.wss.handleUpgrade(req, socket, head, this.accept);
  }

  /**
   * Publishes to a channel's stream; subscribers on every node receive it. `data` is JSON-encoded
   * once, also across channels: it must not change after it is published.
   */
  async publish(channel: string, data: unknown): Promise<StreamPosition> {
    const json = this.#json(data);
    if (json === undefined) throw new TypeError('publication data must be JSON');
    return this.opts.broker.publish(channel, json, this.opts.historyOf(channel));
  }

  /** `publish` on many channels at once: one encoding, one call to the broker. */
  async publishMany(channels: string[], data: unknown): Promise<void> {
    if (channels.length === 0) return;
    const json = this.#json(data);
    if (json === undefined) throw new TypeError('publication data must be JSON');
    await this.opts.broker.publishMany(channels, json, this.opts.historyOf);
  }

  /** One encoding per data object: an event published to many channels is serialised once. */
  #json(data: unknown): string | undefined {
    if (typeof data !== 'object' || data === null) return JSON.stringify(data);
    let json = this.#encoded.get(data);
    if (json === undefined) {
      json = JSON.stringify(data);
      if (json !== undefined) this.#encoded.set(data, json);
    }
    return json;
  }

  /** Registers an RPC method; its result is the reply's `data`. Throw a ProtocolError for an error reply. */
  rpc(method: string, handler: RpcHandler): this {
    this.rpcs.set(method, handler);
    return this;
  }

  /** Closes the target's connections on every node with this code (3000–4999; ≥ 3500 is terminal). */
  async disconnect(target: Target, code: number, reason: string): Promise<void> {
    if (!Number.isInteger(code) || code < 3000 || code > 4999) throw new RangeError('code must be 3000–4999');
    await this.control({ op: 'disconnect', target, code, reason });
  }

  /**
   * Sends `data` as a publication of `channel` to those of the target's connections subscribed to it,
   * on every node, outside the channel's stream: no offset, no history, never recovered. For commands
   * to particular connections (a workspace told to close) that other subscribers must not see.
   */
  async push(target: Target, channel: string, data: unknown): Promise<void> {
    const json = this.#json(data);
    if (json === undefined) throw new TypeError('publication data must be JSON');
    await this.control({ op: 'push', target, channel, data: json });
  }

  /** Adds a server-side subscription to the target's connections (a subscribe push), on every node. */
  subscribe(target: Target, channel: string): Promise<void> {
    return this.control({ op: 'subscribe', target, channel });
  }

  /** Removes a subscription from the target's connections (an unsubscribe push, code 2000). */
  unsubscribe(target: Target, channel: string): Promise<void> {
    return this.control({ op: 'unsubscribe', target, channel });
  }

  /** The user's connected clients on THIS node. */
  connectionsOf(userId: string): ConnectionInfo[] {
    const out: ConnectionInfo[] = [];
    for (const conn of this.users.get(userId) ?? []) {
      if (conn.state === CONNECTED) out.push({ client: conn.client, user: conn.user! });
    }
    return out;
  }

  /** Open sockets on this node (connected or not yet). */
  get connectionCount(): number {
    return this.connections.size;
  }

  stats(): { sockets: number; users: number; channels: number } {
    return { sockets: this.connections.size, users: this.users.size, channels: this.hub.channelCount };
  }

  /** Closes every connection with 3001 shutdown (the SDK reconnects, e.g. to another node). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.ticker);
    for (const conn of [...this.connections]) this.kick(conn, Disconnects.shutdown);
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  // ---- GatewayCore -----------------------------------------------------------------------------

  kick(conn: Connection, d: Disconnect): void {
    if (conn.state === CLOSED) return;
    this.outbox.flush(conn); // its last replies go out before the Close frame
    this.release(conn);
    conn.socket.close(d.code, closeReason(d.reason));
  }

  register(conn: Connection, user: GatewayUser): boolean {
    let set = this.users.get(user.userId);
    const max = this.opts.maxConnectionsPerUser;
    if (max > 0 && set !== undefined && set.size >= max) return false;
    if (set === undefined) {
      set = new Set();
      this.users.set(user.userId, set);
    }
    set.add(conn);
    conn.user = user;
    conn.client = randomUUID();
    return true;
  }

  connected(conn: Connection): void {
    conn.state = CONNECTED;
    conn.nextPingAt = Date.now() + this.opts.pingIntervalSec * 1000;
    this.hook('onConnect', conn);
  }

  // ---- connections -----------------------------------------------------------------------------

  private readonly accept = (ws: WebSocket, req: IncomingMessage): void => {
    const socket = ws as GatewaySocket;
    const conn = new Connection(socket, Date.now());
    conn.origin = req.headers.origin;
    socket.conn = conn;
    socket.on('message', this.listeners.message);
    socket.on('close', this.listeners.close);
    socket.on('error', this.listeners.error);
    this.connections.add(conn);
    if (this.closed) this.kick(conn, Disconnects.shutdown);
  };

  private readonly listeners = socketListeners(this);

  onSocketMessage(socket: GatewaySocket, data: RawData, isBinary: boolean): void {
    const conn = socket.conn;
    if (conn === null || conn.state === CLOSED) return;
    if (isBinary) {
      this.kick(conn, Disconnects.badRequest); // this gateway speaks the JSON protocol only
      return;
    }
    try {
      this.commands.onFrame(conn, (data as Buffer).toString('utf8'));
    } catch (err) {
      this.opts.log?.error({ err, client: conn.client }, 'realtime: frame handling failed');
      this.kick(conn, Disconnects.serverError);
    }
  }

  onSocketClose(socket: GatewaySocket): void {
    if (socket.conn !== null) this.release(socket.conn);
  }

  /** Forgets a connection everywhere; the disconnect hook runs for connections that had connected. */
  private release(conn: Connection): void {
    if (conn.state === CLOSED) return;
    const wasConnected = conn.state === CONNECTED;
    conn.state = CLOSED;
    conn.out = null;
    conn.inbox = null;
    this.connections.delete(conn);
    this.hub.leaveAll(conn);
    const user = conn.user;
    if (user === null) return;
    const set = this.users.get(user.userId);
    if (set?.delete(conn) && set.size === 0) this.users.delete(user.userId);
    if (wasConnected) this.hook('onDisconnect', conn);
  }

  private hook(name: 'onConnect' | 'onDisconnect', conn: Connection): void {
    try {
      this.opts[name]?.(conn.user!, conn.client);
    } catch (err) {
      this.opts.log?.error({ err, client: conn.client }, `realtime: ${name} failed`);
    }
  }

  /** One timer for all connections: pings, missing pongs, sockets that never connected. */
  private readonly tick = (): void => {
    const now = Date.now();
    const pingMs = this.opts.pingIntervalSec * 1000;
    for (const conn of this.connections) {
      if (conn.state !== CONNECTED) {
        if (now - conn.openedAt >= this.opts.staleMs) this.kick(conn, Disconnects.stale);
      } else if (pingMs > 0) {
        if (conn.pongDeadline !== 0 && now >= conn.pongDeadline) this.kick(conn, Disconnects.noPong);
        else if (now >= conn.nextPingAt) {
          this.outbox.write(conn, PING);
          conn.nextPingAt = now + pingMs;
          if (conn.pongDeadline === 0) conn.pongDeadline = now + this.opts.pongTimeoutMs;
        }
      }
    }
  };

  // ---- control messages (node to node) -----------------------------------------------------------

  private control(msg: Control): Promise<void> {
    return this.opts.broker.publishControl(JSON.stringify(msg));
  }

  private onControl(message: string): void {
    const msg = decodeControl(message);
    if (msg === null || this.closed) return;
    // A disconnect also ends connections still connecting (authenticated, not yet replied to): a
    // token revoked while its connect is under way must not leave a connection behind.
    for (const conn of this.targets(msg.target, msg.op === 'disconnect')) {
      if (msg.op === 'disconnect') this.kick(conn, { code: msg.code, reason: msg.reason });
      else if (msg.op === 'push') {
        if (conn.subs?.has(msg.channel)) this.outbox.write(conn, encodePushOnly(msg.channel, msg.data));
      } else if (msg.op === 'unsubscribe') this.hub.serverUnsubscribe(conn, msg.channel);
      else void this.hub.serverSubscribe(conn, msg.channel, this.opts.maxSubscriptions);
    }
  }

  private targets(t: Target, connecting = false): Connection[] {
    const out: Connection[] = [];
    if ('client' in t) {
      for (const conn of this.connections) if (conn.client === t.client) out.push(conn);
      return out;
    }
    for (const conn of this.users.get(t.user) ?? []) {
      if (
        (conn.state === CONNECTED || (connecting && conn.state === CONNECTING)) &&
        (t.login === undefined || conn.user?.login === t.login) &&
        conn.client !== t.exceptClient &&
        (t.exceptLogin === undefined || conn.user?.login !== t.exceptLogin)
      )
        out.push(conn);
    }
    return out;
  }
}
