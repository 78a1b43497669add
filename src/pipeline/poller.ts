/**
 * Long polling for messengers read that way (Telegram getUpdates). Every node runs a manager; a
 * lease in the database lets exactly one node poll a channel at a time, and a node that dies loses
 * its leases when they expire. The cursor (offset) is saved only after the events it covers are
 * stored, so a crash re-reads at most one batch — and storing is idempotent; a provider that
 * `pollsInBatches` has the batch and its cursor stored in one transaction.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChannelRow } from '../domain/channel/channel.repository.ts';
import { channelRepository } from '../domain/channel/channel.repository.ts';
import type { Deps } from '../domain/deps.ts';
import { backoffMs } from '../jobs/worker.ts';
import { ProviderError } from '../providers/provider.ts';
import type { InboundPipeline } from './inbound.ts';
import { leaseRepository } from './lease.repository.ts';
import type { ProviderHost } from './provider-host.ts';

export interface PollerOptions {
  holder: string;
  leaseMs?: number;
  rescanMs?: number;
  log?: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** Moves a channel to `error` when its messenger refuses it for good. */
  markError: (channelId: string, reason: string) => Promise<unknown>;
}

export class PollerManager {
  readonly #loops = new Map<string, AbortController>();
  #timer: NodeJS.Timeout | null = null;
  #offBus: (() => void) | null = null;
  #rescanning: Promise<void> | null = null;
  readonly #leaseMs: number;

  constructor(
    private readonly deps: Deps,
    private readonly host: ProviderHost,
    private readonly inbound: InboundPipeline,
    private readonly opts: PollerOptions,
  ) {
    this.#leaseMs = opts.leaseMs ?? 60_000;
  }

  start(): void {
    this.#offBus = this.deps.bus.on('channel.stateChanged', () => void this.rescan());
    this.#timer = setInterval(() => void this.rescan(), this.opts.rescanMs ?? 15_000);
    void this.rescan();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#offBus?.();
    await this.#rescanning;
    for (const [id, ctl] of this.#loops) {
      ctl.abort();
      await leaseRepository.release(this.deps.db, `poll:${id}`, this.opts.holder).catch(() => {});
    }
    this.#loops.clear();
  }

  /** Channels being polled by this manager's loops (each loop polls only while it holds the lease). */
  get channelIds(): string[] {
    return [...this.#loops.keys()];
  }

  rescan(): Promise<void> {
    this.#rescanning ??= this.#rescan().finally(() => {
      this.#rescanning = null;
    });
    return this.#rescanning;
  }

  async #rescan(): Promise<void> {
    const types = this.host.registry
      .all()
      .filter((p) => p.poll)
      .map((p) => p.channelType);
    const channels = await channelRepository.activeOfTypes(this.deps.db, types).catch(() => null);
    if (!channels) return;
    const wanted = new Set(
      channels
        .filter((c) => this.host.providerFor(c)?.polls?.(this.host.providerChannel(c)))
        .map((c) => c.id),
    );
    for (const [id, ctl] of this.#loops) {
      if (!wanted.has(id)) {
        ctl.abort();
        this.#loops.delete(id);
      }
    }
    for (const id of wanted) {
      if (this.#loops.has(id)) continue;
      const ctl = new AbortController();
      this.#loops.set(id, ctl);
      void this.#loop(id, ctl.signal).finally(() => {
        if (this.#loops.get(id) === ctl) this.#loops.delete(id);
      });
    }
  }

  async #loop(channelId: string, signal: AbortSignal): Promise<void> {
    const lease = `poll:${channelId}`;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (!(await leaseRepository.acquire(this.deps.db, lease, this.opts.holder, this.#leaseMs))) {
          await sleep(this.#leaseMs / 3, undefined, { signal });
          continue;
        }
        const channel = await channelRepository.byId(this.deps.db, channelId);
        if (channel?.state !== 'active') return;
        await this.#round(channel, signal);
        failures = 0;
      } catch (err) {
        if (signal.aborted) return;
        failures++;
        if (err instanceof ProviderError && !err.retryable) {
          this.opts.log?.error({ err, channelId }, 'polling refused; channel set to error');
          await this.opts.markError(channelId, `${err.code}: ${err.message}`).catch(() => {});
          return;
        }
        const wait =
          err instanceof ProviderError && err.opts.retryAfterMs !== undefined
            ? err.opts.retryAfterMs
            : backoffMs(failures, 500, 30_000);
        this.opts.log?.warn({ err, channelId, wait }, 'polling failed; retrying');
        await sleep(wait, undefined, { signal }).catch(() => {});
      }
    }
  }

  async #round(channel: ChannelRow, signal: AbortSignal): Promise<void> {
    const provider = this.host.providerFor(channel);
    if (!provider?.poll) return;
    const cursor = await leaseRepository.cursor(this.deps.db, channel.id);
    const result = await provider.poll(this.host.context(channel), cursor, signal);
    if (signal.aborted) return;
    const moved = result.cursor !== null && result.cursor !== cursor;
    if (provider.pollsInBatches) {
      await this.inbound.receiveBatch(
        channel,
        result.events,
        this.host.profileLookup(channel),
        async (tx) => {
          if (moved) await leaseRepository.saveCursor(tx.db, channel.id, result.cursor!);
        },
      );
      return;
    }
    await this.inbound.receive(channel, result.events, this.host.profileLookup(channel));
    if (moved) await leaseRepository.saveCursor(this.deps.db, channel.id, result.cursor!);
  }
}
