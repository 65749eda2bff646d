import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { LoginThrottle } from '../domain/ports.js';

export interface LoginThrottleSettings {
  /** Sign-in attempts for one account within the window (a success starts it again); the next is refused. */
  maxFailuresPerAccount: number;
  /** Sign-in attempts from one IP within the window (a success gives its attempt back). */
  maxFailuresPerIp: number;
  windowSeconds: number;
  /** How long a key stays blocked once it went over its limit. */
  blockSeconds: number;
}

/**
 * Sign-in attempt counters in Redis (rate-limiter-flexible), shared by every replica: per account
 * (keyed by a hash of the normalised email, whether or not the account exists) and per IP.
 * `consume` is one atomic increment in Redis (a Lua script), done before the password is
 * verified: of any number of concurrent guesses, only `points` get through. The attempt that goes
 * over the limit blocks the key for `blockSeconds` (the library's `blockDuration`).
 */
export class RedisLoginThrottle implements LoginThrottle {
  private readonly byAccount: RateLimiterRedis;
  private readonly byIp: RateLimiterRedis;

  constructor(redis: Redis, s: LoginThrottleSettings) {
    this.byAccount = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: 'login-fail-account',
      points: s.maxFailuresPerAccount,
      duration: s.windowSeconds,
      blockDuration: s.blockSeconds,
    });
    this.byIp = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: 'login-fail-ip',
      points: s.maxFailuresPerIp,
      duration: s.windowSeconds,
      blockDuration: s.blockSeconds,
    });
  }

  async consumeAttempt(accountKey: string, ip: string): Promise<number> {
    // The address first: an address over its limit does not use up the account's attempts.
    const ipWait = await take(this.byIp, ip);
    if (ipWait > 0) return ipWait;
    return take(this.byAccount, accountKey);
  }

  async succeeded(accountKey: string, ip: string): Promise<void> {
    await Promise.all([this.byAccount.delete(accountKey), this.byIp.reward(ip, 1)]);
  }
}

/** 0 when a point was consumed, else the whole seconds until the key frees up (at least 1). */
async function take(limiter: RateLimiterRedis, key: string): Promise<number> {
  try {
    await limiter.consume(key);
    return 0;
  } catch (err) {
    // Over the limit is an answer (a RateLimiterRes), not an error; a Redis failure is thrown on.
    if (!(err instanceof RateLimiterRes)) throw err;
    return Math.max(1, Math.ceil(err.msBeforeNext / 1000));
  }
}
