/**
 * Login abuse: each login and each client address has its own budget of refused logins per window
 * (the address a higher one); spending it locks the key, for longer each time. A locked login is
 * refused before its password is looked at — the right password too — with 429 `LOGIN_LOCKED` and
 * Retry-After. Every refusal is handed to `refused` (the audit log).
 */
import { createHash } from 'node:crypto';
import { normalizeIP } from '@fastify/rate-limit';
import { AppError } from '../errors.ts';
import type { LockoutKey, LockoutRule, LockoutStore } from './lockout-store.ts';
import type { SecuritySettings } from './settings.ts';

export type LoginRefusal = 'invalid_credentials' | 'user_blocked' | 'login_locked' | 'ip_locked';

/** The error codes of UserService.login that are a refused login (counted and audited). */
const REFUSALS: Record<string, LoginRefusal> = {
  INVALID_CREDENTIALS: 'invalid_credentials',
  USER_BLOCKED: 'user_blocked',
};

export class LoginLocked extends AppError {
  constructor(
    readonly scope: 'login' | 'ip',
    readonly retryAfterSeconds: number,
  ) {
    super(
      'LOGIN_LOCKED',
      scope === 'login'
        ? `too many failed logins for this login; retry in ${retryAfterSeconds} s`
        : `too many failed logins from this address; retry in ${retryAfterSeconds} s`,
      { scope, retryAfterSeconds },
    );
  }
}

export class LoginGuard {
  readonly #loginRule: LockoutRule;
  readonly #ipRule: LockoutRule;

  constructor(
    private readonly store: LockoutStore,
    settings: SecuritySettings,
  ) {
    const rule = (max: number): LockoutRule => ({
      max,
      windowMs: settings.loginFailureWindowMs,
      lockMs: settings.loginLockMs,
      maxLockMs: Math.max(settings.loginLockMs, settings.loginLockMaxMs),
    });
    this.#loginRule = rule(settings.loginMaxFailures);
    this.#ipRule = rule(settings.loginIpMaxFailures);
  }

  /**
   * Runs `verify` (the password check) unless the login or the address is locked; counts a refusal
   * it answers, forgets the login's failures on success.
   */
  async attempt<T>(
    login: string,
    ip: string,
    verify: () => Promise<T>,
    refused: (reason: LoginRefusal) => Promise<void>,
  ): Promise<T> {
    const loginKey = this.#loginKey(login);
    const ipKey = this.#ipKey(ip);
    const keys = [ipKey, loginKey].filter((k): k is LockoutKey => k !== null);
    const begun = keys.length > 0 ? await this.store.begin(keys) : { ok: true as const, counts: [] };
    if (!begun.ok) {
      const scope = keys[begun.index] === ipKey ? 'ip' : 'login';
      await refused(scope === 'ip' ? 'ip_locked' : 'login_locked');
      throw new LoginLocked(scope, Math.max(1, Math.ceil(begun.retryMs / 1000)));
    }
    let result: T;
    try {
      result = await verify();
    } catch (err) {
      const reason = err instanceof AppError ? REFUSALS[err.code] : undefined;
      if (reason) {
        await this.store.fail(keys, begun.counts);
        await refused(reason);
      } else {
        // Not an answer about the password (the database failed, say): the attempt does not count.
        await Promise.all(keys.map((k) => this.store.release(k)));
      }
      throw err;
    }
    if (loginKey) await this.store.reset(loginKey);
    // The address counts failures only: a success gives its attempt back, and nothing more.
    if (ipKey) await this.store.release(ipKey);
    return result;
  }

  /** An admin's unlock: the login's and/or the address's failures, lock and lock history are forgotten. */
  async unlock(target: { login?: string; ip?: string }): Promise<void> {
    const keys = [
      target.login === undefined ? null : this.#loginKey(target.login),
      target.ip === undefined ? null : this.#ipKey(target.ip),
    ];
    await Promise.all(keys.map((k) => k && this.store.reset(k)));
  }

  #loginKey(login: string): LockoutKey | null {
    return this.#loginRule.max > 0
      ? { id: `login:${digest(login.toLowerCase())}`, rule: this.#loginRule }
      : null;
  }

  #ipKey(ip: string): LockoutKey | null {
    return this.#ipRule.max > 0 ? { id: `ip:${normalizeIP(ip)}`, rule: this.#ipRule } : null;
  }
}

/** Logins are not kept in the shared store: its keys name their digest. */
function digest(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url').slice(0, 32);
}
