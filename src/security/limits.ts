/**
 * The limits of one node: the login guard and the request-rate limits (@fastify/rate-limit) of the
 * API, the login route and the webhooks. With Redis their counters are shared by every node (one
 * connection for them all, under the cluster's key prefix); without it they live in this process.
 */
import rateLimit, { normalizeIP, type RateLimitPluginOptions } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import { AppError } from '../errors.ts';
import { bearerToken } from '../http/plugins/auth.ts';
import { hashToken } from '../lib/tokens.ts';
import {
  FallbackLockoutStore,
  type LockoutStore,
  MemoryLockoutStore,
  RedisLockoutStore,
} from './lockout-store.ts';
import { LoginGuard } from './login-guard.ts';
import { DEFAULT_SECURITY, type SecuritySettings } from './settings.ts';

export interface Limits {
  settings: SecuritySettings;
  guard: LoginGuard;
  /** Registers a request-rate limit on the routes of `scope` (none when `max` is 0). */
  limitRequests(
    scope: FastifyInstance,
    name: string,
    max: number,
    key: (req: FastifyRequest) => string,
  ): Promise<void>;
  /** The per-route option of the login route: requests per minute per address. */
  loginRateLimit():
    | { max: number; timeWindow: number; keyGenerator: (req: FastifyRequest) => string }
    | false;
  close(): Promise<void>;
}

export interface LimitsOptions {
  settings?: Partial<SecuritySettings>;
  redisUrl?: string | null;
  redisPrefix?: string;
  log?: { warn(obj: object, msg: string): void };
}

const MINUTE = 60_000;

/** Requests per minute: the API counts per token, requests without one per address. */
export const apiKey = (req: FastifyRequest): string => {
  const token = bearerToken(req.headers.authorization);
  return token ? `t:${hashToken(token).slice(0, 32)}` : `ip:${normalizeIP(req.ip)}`;
};
export const addressKey = (req: FastifyRequest): string => `ip:${normalizeIP(req.ip)}`;
/** Webhooks count per channel (the path's channel id). */
export const channelKey = (req: FastifyRequest): string =>
  `ch:${(req.params as { channelId?: string }).channelId ?? ''}`;

/** Fastify's `trustProxy`: a hop count as the function proxy-addr makes of one (Fastify's types take no number). */
export function trustProxyOption(
  value: SecuritySettings['trustProxy'],
): boolean | string[] | ((address: string, hop: number) => boolean) {
  return typeof value === 'number' ? (_address, hop) => hop < value : value;
}

export function createLimits(opts: LimitsOptions = {}): Limits {
  const settings: SecuritySettings = { ...DEFAULT_SECURITY, ...opts.settings };
  const prefix = `${opts.redisPrefix ?? 'omniline:'}limits:`;
  // A limit must never hold a request up for long: one try, a short timeout, then the store is
  // skipped (request limits) or this node's memory counts (logins).
  const redis = opts.redisUrl
    ? new Redis(opts.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 1000 })
    : null;
  redis?.on('error', () => {});
  const memory = new MemoryLockoutStore();
  const store: LockoutStore = redis
    ? new FallbackLockoutStore(new RedisLockoutStore(redis, `${prefix}login:`), memory, opts.log)
    : memory;

  const tooMany = (_req: FastifyRequest, context: { ttl: number; max: number; after: string }) =>
    new AppError(
      'TOO_MANY_REQUESTS',
      `rate limit of ${context.max} per minute exceeded; retry in ${context.after}`,
      {
        limit: context.max,
        retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)),
      },
    );

  return {
    settings,
    guard: new LoginGuard(store, settings),
    async limitRequests(scope, name, max, key) {
      const options: RateLimitPluginOptions = {
        global: max > 0,
        max,
        timeWindow: MINUTE,
        keyGenerator: key,
        errorResponseBuilder: tooMany,
        skipOnError: true,
        cache: 10_000,
        ...(redis && { redis, nameSpace: `${prefix}${name}:` }),
      };
      await scope.register(rateLimit, options);
    },
    loginRateLimit() {
      return settings.loginIpRateLimit > 0
        ? { max: settings.loginIpRateLimit, timeWindow: MINUTE, keyGenerator: addressKey }
        : false;
    },
    async close() {
      redis?.disconnect();
    },
  };
}
