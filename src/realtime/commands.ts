/**
 * Client commands: frames in, replies out. A connection's commands run strictly in order — `connect`
 * finishes before the `subscribe`s the SDK sends in the same frame — so while one awaits (auth, the
 * broker, an RPC handler) later frames wait in the connection's inbox.
 */
import type { ChannelHub, Opening } from './channel-hub.ts';
import {
  CLOSED,
  CONNECTED,
  CONNECTING,
  type Connection,
  FAILED,
  OPEN,
  type Outbox,
  type PubPush,
  SUB_SERVER,
} from './connection.ts';
import type { GatewayUser, ResolvedOptions } from './options.ts';
import {
  BadRequest,
  type Command,
  type ConnectRequest,
  connectToken,
  type Disconnect,
  Disconnects,
  decodeFrame,
  Errors,
  encodeConnectResult,
  encodeError,
  encodeHistoryResult,
  encodeReply,
  encodeRpcResult,
  encodeSubscribeResult,
  FLAG_REJECT_UNRECOVERED,
  type HistoryRequest,
  ProtocolError,
  type SubscribeRequest,
  type SubscribeResult,
} from './protocol.ts';

export type RpcHandler = (user: GatewayUser, data: unknown, ctx: { client: string }) => unknown;

/** What the command processor needs from the gateway. */
export interface GatewayCore {
  readonly opts: ResolvedOptions;
  readonly hub: ChannelHub;
  readonly outbox: Outbox;
  readonly rpcs: ReadonlyMap<string, RpcHandler>;
  kick(conn: Connection, d: Disconnect): void;
  /** Adds an authenticated connection to the user index; false over the per-user limit. */
  register(conn: Connection, user: GatewayUser): boolean;
  connected(conn: Connection): void;
}

export class CommandProcessor {
  private readonly opts: ResolvedOptions;

  constructor(private readonly core: GatewayCore) {
    this.opts = core.opts;
  }

  /** A text frame from the client. */
  onFrame(conn: Connection, text: string): void {
    conn.pongDeadline = 0; // any frame proves the client alive
    if (!conn.busy) {
      this.process(conn, text);
      return;
    }
    if (conn.inbox === null) conn.inbox = [];
    if (conn.inbox.length >= this.opts.maxQueuedFrames) this.core.kick(conn, Disconnects.tooManyRequests);
    else conn.inbox.push(text);
  }

  private process(conn: Connection, text: string): void {
    let cmds: Command[];
    try {
      cmds = decodeFrame(text);
    } catch (err) {
      if (!(err instanceof BadRequest)) throw err;
      this.core.kick(conn, Disconnects.badRequest);
      return;
    }
    if (this.withinRate(conn, cmds.length)) this.run(conn, cmds, 0);
    else this.core.kick(conn, Disconnects.tooManyRequests);
  }

  /** Runs commands from `from`; an asynchronous one suspends the loop until it settles. */
  private run(conn: Connection, cmds: Command[], from: number): void {
    for (let i = from; i < cmds.length; i++) {
      if (conn.state === CLOSED) return;
      const pending = this.dispatch(conn, cmds[i]!);
      if (pending !== undefined) {
        conn.busy = true;
        pending
          .then(() => this.run(conn, cmds, i + 1))
          .catch((err: unknown) => {
            // Command errors are answered by the handlers; reaching here is a bug: drop the connection.
            this.opts.log?.error({ err, client: conn.client }, 'realtime: command failed');
            this.core.kick(conn, Disconnects.serverError);
          });
        return;
      }
    }
    conn.busy = false;
    const next = conn.inbox?.shift();
    if (next === undefined) return;
    if (conn.inbox!.length === 0) conn.inbox = null;
    this.process(conn, next);
  }

  private withinRate(conn: Connection, n: number): boolean {
    const now = Date.now();
    if (now - conn.rateStart >= 1000) {
      conn.rateStart = now;
      conn.rateCount = 0;
    }
    conn.rateCount += n;
    return conn.rateCount <= this.opts.maxCommandsPerSecond;
  }

  private dispatch(conn: Connection, cmd: Command): Promise<void> | undefined {
    if (conn.state !== CONNECTED) {
      // Before connect only connect is allowed; after a failed connect nothing is.
      if (cmd.method === 'connect' && conn.state === OPEN) return this.connect(conn, cmd.id, cmd.req);
      this.core.kick(conn, Disconnects.badRequest);
      return;
    }
    const user = conn.user!;
    switch (cmd.method) {
      case 'pong':
        return;
      case 'ping':
        return this.reply(conn, cmd.id, 'ping');
      case 'connect':
        this.core.kick(conn, Disconnects.badRequest);
        return;
      case 'subscribe':
        return this.guard(conn, cmd.id, this.subscribe(conn, cmd.id, user, cmd.req));
      case 'unsubscribe':
        return this.unsubscribe(conn, cmd.id, cmd.channel);
      case 'publish':
        return this.guard(conn, cmd.id, this.publish(conn, cmd.id, user, cmd.channel, cmd.data));
      case 'history':
        return this.guard(conn, cmd.id, this.history(conn, cmd.id, user, cmd.req));
      case 'rpc':
        return this.guard(conn, cmd.id, this.rpc(conn, cmd.id, user, cmd.rpc, cmd.data));
      case 'send':
        return this.send(conn, user, cmd.data);
      default: // presence, presence_stats, refresh, sub_refresh: no presence, no expiring tokens
        return this.fail(conn, cmd.id, Errors.notAvailable());
    }
  }

  private async connect(conn: Connection, id: number, req: ConnectRequest): Promise<void> {
    conn.state = CONNECTING;
    let user: GatewayUser | null;
    let openings: Opening[];
    try {
      const token = connectToken(req);
      user = await this.opts.authenticate({
        token: token || undefined,
        data: req.data,
        name: req.name || undefined,
        origin: conn.origin,
      });
      if (conn.state === CLOSED) return;
      if (user === null) return this.core.kick(conn, Disconnects.invalidToken);
      if (!this.core.register(conn, user)) return this.core.kick(conn, Disconnects.connectionLimit);
      const channels = [...new Set(await this.opts.serverSideChannels(user))].slice(
        0,
        this.opts.maxSubscriptions,
      );
      if (conn.state === CLOSED) return;
      openings = await Promise.all(
        channels.map((ch) => this.core.hub.open(conn, ch, SUB_SERVER, req.subs?.[ch])),
      );
    } catch (err) {
      this.core.hub.leaveAll(conn);
      if (conn.state === CLOSED) return;
      conn.state = FAILED; // the SDK closes after a connect error; any other command is a bad request
      return this.fail(conn, id, err);
    }
    if (conn.state === CLOSED) return;
    // Synchronously from here: activate every subscription, then reply, then what they buffered.
    const subs = new Map<string, SubscribeResult>();
    const buffered: PubPush[] = [];
    for (const o of openings) {
      const pubs = this.core.hub.activate(conn, o);
      if (pubs === null) return this.core.kick(conn, Disconnects.insufficientState);
      subs.set(o.channel, o.result);
      for (const p of pubs) buffered.push(p);
    }
    const result = encodeConnectResult(conn.client, this.opts.version, this.opts.pingIntervalSec, subs);
    this.core.outbox.write(conn, encodeReply(id, 'connect', result));
    for (const p of buffered) this.core.outbox.write(conn, p);
    this.core.connected(conn);
  }

  private async subscribe(
    conn: Connection,
    id: number,
    user: GatewayUser,
    req: SubscribeRequest,
  ): Promise<void> {
    const channel = req.channel;
    if (conn.subs?.has(channel)) throw Errors.alreadySubscribed();
    if (conn.subscriptionCount() >= this.opts.maxSubscriptions) throw Errors.limitExceeded();
    if (!(await this.opts.canSubscribe(user, channel))) throw Errors.permissionDenied();
    if (conn.state !== CONNECTED) return;
    if (conn.subs?.has(channel)) throw Errors.alreadySubscribed(); // a server subscribe came meanwhile
    const o = await this.core.hub.open(conn, channel, 0, req);
    if (conn.state !== CONNECTED) return;
    if (req.recover && !o.result.recovered && (req.flag & FLAG_REJECT_UNRECOVERED) !== 0) {
      this.core.hub.leave(conn, channel);
      throw Errors.unrecoverablePosition();
    }
    const pubs = this.core.hub.activate(conn, o);
    if (pubs === null) return this.core.kick(conn, Disconnects.insufficientState);
    this.core.outbox.write(conn, encodeReply(id, 'subscribe', encodeSubscribeResult(o.result)));
    for (const p of pubs) this.core.outbox.write(conn, p);
  }

  private unsubscribe(conn: Connection, id: number, channel: string): undefined {
    const flags = conn.subs?.get(channel);
    // Server-side subscriptions are the server's to end.
    if (flags !== undefined && (flags & SUB_SERVER) === 0) this.core.hub.leave(conn, channel);
    return this.reply(conn, id, 'unsubscribe');
  }

  private async publish(conn: Connection, id: number, user: GatewayUser, channel: string, data: unknown) {
    if (!(await this.opts.canPublish(user, channel, data))) throw Errors.permissionDenied();
    await this.opts.broker.publish(channel, JSON.stringify(data), this.opts.historyOf(channel));
    this.reply(conn, id, 'publish');
  }

  private async history(conn: Connection, id: number, user: GatewayUser, req: HistoryRequest): Promise<void> {
    if (!(await this.opts.canSubscribe(user, req.channel))) throw Errors.permissionDenied();
    const max = this.opts.maxHistoryLimit;
    const limit = req.limit === -1 ? max : Math.min(req.limit, max);
    const r = await this.opts.broker.history(req.channel, { since: req.since, limit, reverse: req.reverse });
    if (r.unrecoverable) throw Errors.unrecoverablePosition();
    this.reply(conn, id, 'history', encodeHistoryResult(r.publications, r.offset, r.epoch));
  }

  private async rpc(conn: Connection, id: number, user: GatewayUser, method: string, data: unknown) {
    const handler = this.core.rpcs.get(method);
    if (handler === undefined) throw Errors.methodNotFound();
    const result = await handler(user, data, { client: conn.client });
    this.reply(conn, id, 'rpc', encodeRpcResult(result));
  }

  /** Fire-and-forget: no reply, and the next command does not wait for the hook. */
  private send(conn: Connection, user: GatewayUser, data: unknown): undefined {
    const hook = this.opts.onSend;
    if (hook === undefined) return;
    const log = (err: unknown) =>
      this.opts.log?.error({ err, client: conn.client }, 'realtime: onSend failed');
    try {
      Promise.resolve(hook(user, data, conn.client)).catch(log);
    } catch (err) {
      log(err);
    }
  }

  private reply(conn: Connection, id: number, method: string, resultJson?: string): undefined {
    if (conn.state === CONNECTED) this.core.outbox.write(conn, encodeReply(id, method, resultJson));
  }

  /** A command error reply; anything but a ProtocolError is logged and answered as 100 internal. */
  private fail(conn: Connection, id: number, err: unknown): undefined {
    if (conn.state === CLOSED) return;
    if (!(err instanceof ProtocolError)) {
      this.opts.log?.error({ err, client: conn.client }, 'realtime: command error');
      err = Errors.internal();
    }
    this.core.outbox.write(conn, encodeError(id, err as ProtocolError));
  }

  private guard(conn: Connection, id: number, p: Promise<void>): Promise<void> {
    return p.catch((err: unknown) => this.fail(conn, id, err));
  }
}
