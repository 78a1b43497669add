/**
 * Limits on login abuse and request floods, and who may read `/metrics`. Every number is a setting
 * (src/config.ts, README's configuration table); 0 turns a limit off.
 */
export interface SecuritySettings {
  /** Refused logins of one login (any address) in `loginFailureWindowMs` before it is locked. */
  loginMaxFailures: number;
  /** Refused logins from one address (any login) in `loginFailureWindowMs` before it is locked. */
  loginIpMaxFailures: number;
  loginFailureWindowMs: number;
  /** The first lock; each further lock of the same key (within a day, no success between) doubles it. */
  loginLockMs: number;
  loginLockMaxMs: number;
  /** Login requests per minute from one address, whatever their outcome. */
  loginIpRateLimit: number;
  /** API requests per minute per token (per address for requests without one). */
  apiRateLimit: number;
  /** Webhook requests per minute per channel. */
  webhookRateLimit: number;
  /** Live-chat widget requests per minute per visitor (`/livechat/…`). */
  livechatVisitorRateLimit: number;
  /** Live-chat widget requests per minute per address, whichever visitors they are. */
  livechatIpRateLimit: number;
  /** When set, `GET /metrics` requires `Authorization: Bearer <this>`. */
  metricsToken: string | null;
  /**
   * Fastify's `trustProxy`: whether (true), how many hops (a number) or which proxies (addresses,
   * CIDRs) may set X-Forwarded-For — the client address the per-address limits count.
   */
  trustProxy: boolean | number | string[];
}

export const DEFAULT_SECURITY: SecuritySettings = {
  loginMaxFailures: 5,
  loginIpMaxFailures: 50,
  loginFailureWindowMs: 15 * 60_000,
  loginLockMs: 60_000,
  loginLockMaxMs: 3600_000,
  loginIpRateLimit: 100,
  apiRateLimit: 10_000,
  webhookRateLimit: 0,
  livechatVisitorRateLimit: 120,
  livechatIpRateLimit: 1200,
  metricsToken: null,
  trustProxy: false,
};
