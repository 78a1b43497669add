/**
 * The composition root: domain services, providers, the inbound and outbound pipelines, the file
 * store, the job worker and the pollers — built once from explicit options, started and stopped
 * together. main.ts and the tests build the same thing.
 */
import path from 'node:path';
import type { Db } from './db/client.ts';
import type { Clock } from './domain/deps.ts';
import { EventBus } from './domain/events/domain-events.ts';
import { DEFAULT_CLIENT_OFFLINE_SECONDS, WorkspaceService } from './domain/operator/workspace.service.ts';
import { fileRepository } from './files/file.repository.ts';
import { FileService } from './files/file.service.ts';
import { LocalFileStore } from './files/file-store.ts';
import { JobWorker, type WorkerOptions } from './jobs/worker.ts';
import type { GeoIp } from './lib/geoip.ts';
import type { SecretBox } from './lib/secret-box.ts';
import { ClientConnections } from './live/client-connections.ts';
import { LiveService } from './live/live-service.ts';
import { channels as liveChannels } from './live/operator-events.ts';
import { Prometheus } from './observability/prometheus.ts';
import { AttachmentLoader } from './pipeline/attachments.ts';
import { providerLifecycle } from './pipeline/channel-lifecycle.ts';
import { ATTACHMENT_JOB, BOT_DELIVERY_JOB, InboundPipeline } from './pipeline/inbound.ts';
import { EDIT_JOB, OutboundPipeline, SEND_JOB } from './pipeline/outbound.ts';
import { PollerManager } from './pipeline/poller.ts';
import { ProviderHost } from './pipeline/provider-host.ts';
import type { OmnilinePlugin } from './plugins.ts';
import { SmtpInListener, type SmtpInOptions } from './providers/inbox/inbox-smtp.listener.ts';
import { registerStoredMailReader } from './providers/inbox/inbox-stored-mail.ts';
import type { ProviderContext } from './providers/provider.ts';
import { builtinProviders, ProviderRegistry } from './providers/registry.ts';
import { type Broker, type GatewayOptions, MemoryBroker, RedisBroker } from './realtime/index.ts';
import { BotDispatcher } from './routing/bot-dispatcher.ts';
import { MetricsService } from './routing/metrics.service.ts';
import { validateQueuePatch } from './routing/queue-settings.ts';
import { Router, type RouterOptions } from './routing/router.ts';
import { RuleRegistry } from './routing/rule.ts';
import { roundRobinRule } from './routing/rules/round-robin.ts';
import { toAllRule } from './routing/rules/to-all.ts';
import { toAvailableRule } from './routing/rules/to-available.ts';
import { createLimits, type Limits } from './security/limits.ts';
import type { SecuritySettings } from './security/settings.ts';
import { createServices, type Services } from './services.ts';

export interface PlatformOptions {
  db: Db;
  secrets: SecretBox;
  /** Root of the local file store. */
  filesDir: string;
  publicUrl?: string | null;
  clock?: Clock;
  plugins?: OmnilinePlugin[];
  /** fetch used by providers (tests may wrap it). */
  fetch?: typeof fetch;
  /** Hosts providers may fetch from although private (OMNILINE_FETCH_ALLOW_PRIVATE); see fetch-guard.ts. */
  fetchAllowPrivate?: readonly string[];
  worker?: WorkerOptions;
  pollLeaseMs?: number;
  router?: RouterOptions;
  /** Cross-node fan-out and stream history; without it, one node in memory. */
  redisUrl?: string | null;
  /** Key prefix in Redis (tests isolate themselves with it). */
  redisPrefix?: string;
  realtime?: Partial<GatewayOptions>;
  /** Login, API and webhook limits and the metrics token (defaults: src/security/settings.ts). */
  security?: Partial<SecuritySettings>;
  /** A client silent this long goes offline, on lines that set no timeout of their own (seconds; 0 never). */
  clientOfflineTimeoutSeconds?: number;
  /** IP → location for live-chat visitors (OMNILINE_GEOIP_CSV); none: no coordinates. */
  geoip?: GeoIp | null;
  /** SMTP in for inbox channels (OMNILINE_SMTP_PORT); none: no listener. */
  smtpIn?: SmtpInOptions | null;
  log?: ProviderContext['log'] & { error(obj: object, msg: string): void };
}

export interface Platform {
  services: Services;
  registry: ProviderRegistry;
  host: ProviderHost;
  inbound: InboundPipeline;
  outbound: OutboundPipeline;
  files: FileService;
  worker: JobWorker;
  pollers: PollerManager;
  router: Router;
  workspace: WorkspaceService;
  metrics: MetricsService;
  /** The process's Prometheus metrics (`GET /metrics`). */
  prometheus: Prometheus;
  broker: Broker;
  live: LiveService;
  /** Login guard and request-rate limits, shared across nodes through Redis when there is one. */
  limits: Limits;
  geoip: GeoIp | null;
  /** The SMTP-in listener when configured: `listen()` after `start()`. */
  smtpIn: SmtpInListener | null;
  /** Starts background work: the job worker and the pollers. */
  start(): void;
  stop(): Promise<void>;
}

export function createPlatform(opts: PlatformOptions): Platform {
  const registry = new ProviderRegistry(builtinProviders());
  for (const plugin of opts.plugins ?? []) for (const p of plugin.providers ?? []) registry.register(p);
  const host = new ProviderHost(
    registry,
    (row) => opts.secrets.openJson<Record<string, unknown>>(row.settingsEnc) ?? {},
    {
      publicUrl: opts.publicUrl ?? null,
      fetch: opts.fetch,
      allowPrivate: opts.fetchAllowPrivate,
      log: opts.log,
    },
  );
  const rules = new RuleRegistry([toAvailableRule, toAllRule, roundRobinRule]);
  for (const plugin of opts.plugins ?? []) for (const r of plugin.routingRules ?? []) rules.register(r);
  const services = createServices({
    db: opts.db,
    secrets: opts.secrets,
    bus: new EventBus(),
    clock: opts.clock,
    lifecycle: providerLifecycle(host),
    validateQueue: (patch) => validateQueuePatch(patch, rules.names()) as Record<string, unknown>,
  });
  const prometheus = new Prometheus({
    db: opts.db,
    clock: services.deps.clock,
    jobKinds: [SEND_JOB, EDIT_JOB, ATTACHMENT_JOB, BOT_DELIVERY_JOB],
  });
  prometheus.watch(services.deps.bus);
  const worker = new JobWorker(opts.db, { ...opts.worker, log: opts.log });
  const wake = () => worker.wake();
  const files = new FileService(
    services.deps,
    new LocalFileStore(path.resolve(opts.filesDir)),
    services.sessions,
  );
  const inbound = new InboundPipeline(services.deps, services.sessions, services.intake, wake);
  const markChannelError = (id: string, reason: string) => services.channels.setState(id, 'error', reason);
  const outbound = new OutboundPipeline(
    services.deps,
    services.sessions,
    host,
    files,
    wake,
    prometheus,
    markChannelError,
  );
  const attachments = new AttachmentLoader(services.deps, host, files, markChannelError);
  worker.handle(SEND_JOB, (job) => outbound.runSend(job));
  worker.handle(EDIT_JOB, (job) => outbound.runEdit(job));
  worker.handle(ATTACHMENT_JOB, (job) => attachments.run(job));
  const bots = new BotDispatcher(
    services.deps,
    services.bots,
    services.sessions,
    opts.fetch,
    opts.fetchAllowPrivate,
  );
  worker.handle(BOT_DELIVERY_JOB, (job) => bots.run(job));
  const workspace = new WorkspaceService(services.deps, services.sessions, services.intake);
  const router = new Router(services.deps, services.sessions, rules, {
    log: opts.log,
    metrics: prometheus,
    ...opts.router,
    onOutsideHours: (sessionId, text) => outbound.sendSystem(sessionId, text),
  });
  const presenceGraceMs = opts.router?.presenceGraceMs ?? 60_000;
  const clientOfflineSeconds = opts.clientOfflineTimeoutSeconds ?? DEFAULT_CLIENT_OFFLINE_SECONDS;
  const broker: Broker = opts.redisUrl
    ? new RedisBroker({ url: opts.redisUrl, prefix: opts.redisPrefix, log: opts.log })
    : new MemoryBroker();
  const live = new LiveService(services.deps, {
    broker,
    users: services.users,
    workspace,
    host,
    gateway: opts.realtime,
    clients: new ClientConnections(services.deps, host, services.channelCache, inbound, {
      graceMs: presenceGraceMs,
      fileUrl: (id) => files.links.url(id, services.deps.clock.now(), host.publicUrl).url,
      log: opts.log,
    }),
    log: opts.log,
  });
  host.setClientPusher(async (channelId, externalId, data) => {
    await live.gateway.publish(liveChannels.client(channelId, externalId), data);
  });
  live.start();
  prometheus.countConnections(() => live.gateway.connectionCount);
  const limits = createLimits({
    settings: opts.security,
    redisUrl: opts.redisUrl,
    redisPrefix: opts.redisPrefix,
    log: opts.log,
  });
  services.channelCache.syncAcross(broker);
  let offs: (() => void)[] = [];
  let presenceTimer: NodeJS.Timeout | null = null;
  const pollers = new PollerManager(services.deps, host, inbound, {
    holder: worker.holder,
    leaseMs: opts.pollLeaseMs,
    log: opts.log,
    markError: markChannelError,
  });
  // Mail our SMTP listener took is kept in the file store: attachment loads on any node read it there.
  const offStoredMail = registerStoredMailReader(async (fileId) => {
    const file = await fileRepository.byId(opts.db, fileId).catch(() => undefined);
    if (!file) return null;
    const chunks: Buffer[] = [];
    for await (const c of files.store.open(file.storageKey)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  });
  const smtpIn = opts.smtpIn
    ? new SmtpInListener(
        {
          db: opts.db,
          host,
          inbound,
          files,
          onChannelChange: (fn) => {
            const offs = [
              services.deps.bus.on('channel.stateChanged', fn),
              services.deps.bus.on('channel.updated', fn),
            ];
            return () => {
              for (const off of offs) off();
            };
          },
          log: opts.log,
        },
        opts.smtpIn,
      )
    : null;
  return {
    services,
    registry,
    host,
    inbound,
    outbound,
    files,
    worker,
    pollers,
    router,
    workspace,
    metrics: new MetricsService(services.deps),
    prometheus,
    broker,
    live,
    limits,
    geoip: opts.geoip ?? null,
    smtpIn,
    start() {
      worker.start();
      pollers.start();
      router.start();
      const bus = services.deps.bus;
      offs = [
        bus.on(
          'user.blocked',
          (e) => void workspace.release(e.payload.userId, { requeue: true }).catch(() => {}),
        ),
        bus.on(
          'user.loggedOut',
          (e) => void workspace.release(e.payload.userId, { requeue: false }).catch(() => {}),
        ),
        bus.on(
          'user.deleted',
          (e) => void workspace.release(e.payload.userId, { requeue: true }).catch(() => {}),
        ),
      ];
      presenceTimer = setInterval(
        () => void workspace.sweepPresence(presenceGraceMs, clientOfflineSeconds).catch(() => {}),
        Math.min(presenceGraceMs, 5000),
      );
    },
    async stop() {
      for (const off of offs) off();
      if (presenceTimer) clearInterval(presenceTimer);
      await smtpIn?.close();
      offStoredMail();
      await router.stop();
      await pollers.stop();
      await worker.stop();
      await live.stop();
      await broker.close();
      await limits.close();
    },
  };
}
