/**
 * `System.live.connect()`: the operator live events over the official `centrifuge` client, connected
 * the way the operator-events document does it (`/centrifugo/connection/websocket`, `data: {
 * application: 'notifications', settings: { token } }`), with a typed handler per event name:
 *
 *   const live = await System.live.connect();
 *   live.on('chatMessageCreated', (data) => console.log(data.message.text));
 */

import { OmnilineError } from './errors.ts';
import type { OperatorEvent, OperatorEventName } from './events.ts';
import type { SystemOptions } from './transport.ts';

export type { OperatorEvent, OperatorEventName };
export type EventData<N extends OperatorEventName> = Extract<OperatorEvent, { event: N }>['data'];
export type EventHandler<N extends OperatorEventName> = (
  data: EventData<N>,
  event: Extract<OperatorEvent, { event: N }>,
) => void;

export interface LiveOptions {
  /** A WebSocket implementation where the runtime has none (Node 20: the `ws` package is tried). */
  websocket?: unknown;
  /** Passed to the centrifuge client as they are (reconnect delays, timeouts, …). */
  centrifuge?: Record<string, unknown>;
}

interface CentrifugeLike {
  on(event: string, fn: (ctx: never) => void): unknown;
  once(event: string, fn: (ctx: never) => void): unknown;
  connect(): void;
  disconnect(): void;
}

export class LiveConnection {
  readonly #handlers = new Map<string, Set<(data: unknown, event: unknown) => void>>();
  readonly #any = new Set<(event: OperatorEvent) => void>();
  constructor(readonly centrifuge: CentrifugeLike) {
    centrifuge.on('publication', (ctx: { data: OperatorEvent }) => {
      const event = ctx.data;
      if (!event || typeof event.event !== 'string') return;
      for (const fn of this.#any) fn(event);
      for (const fn of this.#handlers.get(event.event) ?? []) fn(event.data, event);
    });
  }
  /** Calls `handler` with each event of this name; returns a function that stops it. */
  on<N extends OperatorEventName>(name: N, handler: EventHandler<N>): () => void {
    const set = this.#handlers.get(name) ?? new Set();
    this.#handlers.set(name, set);
    const fn = handler as (data: unknown, event: unknown) => void;
    set.add(fn);
    return () => set.delete(fn);
  }
  /** Every event, whatever its name. */
  onAny(handler: (event: OperatorEvent) => void): () => void {
    this.#any.add(handler);
    return () => this.#any.delete(handler);
  }
  /** The next event of this name (optionally one that matches), as a promise. */
  next<N extends OperatorEventName>(
    name: N,
    match: (data: EventData<N>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<EventData<N>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new OmnilineError('LIVE_TIMEOUT', `no ${name} event within ${timeoutMs} ms`, 0));
      }, timeoutMs);
      const off = this.on(name, (data) => {
        if (!match(data)) return;
        clearTimeout(timer);
        off();
        resolve(data as never);
      });
    });
  }
  close(): void {
    this.centrifuge.disconnect();
  }
}

export class Live {
  constructor(private readonly options: SystemOptions) {}

  async connect(opts: LiveOptions = {}): Promise<LiveConnection> {
    const { Centrifuge } = (await import('centrifuge').catch(() => {
      throw new OmnilineError('LIVE_UNAVAILABLE', 'System.live needs the `centrifuge` package installed', 0);
    })) as { Centrifuge: new (url: string, opts: object) => CentrifugeLike };
    const websocket =
      opts.websocket ??
      (globalThis as { WebSocket?: unknown }).WebSocket ??
      // Node 20 has no WebSocket of its own: use `ws` when it is there.
      (await import('ws' as string).then((m: { default: unknown }) => m.default).catch(() => undefined));
    const url = `${this.options.url.replace(/\/+$/, '').replace(/^http/, 'ws')}/centrifugo/connection/websocket`;
    const centrifuge = new Centrifuge(url, {
      ...(websocket !== undefined && { websocket }),
      data: { application: 'notifications', settings: { token: this.options.token } },
      ...opts.centrifuge,
    });
    const connection = new LiveConnection(centrifuge);
    await new Promise<void>((resolve, reject) => {
      centrifuge.once('connected', () => resolve());
      centrifuge.once('disconnected', (ctx: { code: number; reason: string }) =>
        reject(new OmnilineError('LIVE_DISCONNECTED', `live: ${ctx.code} ${ctx.reason}`, 0, ctx)),
      );
      centrifuge.connect();
    });
    return connection;
  }
}
