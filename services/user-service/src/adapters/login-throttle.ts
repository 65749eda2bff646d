import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { LoginThrottle } from '../domain/ports.js';

export interface LoginThrottleSettings {
  /** Failed logins for one account within the window before it is blocked. */
  maxFailuresPerAccount: number;
  /** Failed logins from one IP within the window before it is blocked. */
  maxFailuresPerIp: number;
  windowSeconds: number;
  blockSeconds: number;
}

/**
 * Login failure counters in Redis (rate-limiter-flexible), shared by every replica: per account
 * (keyed by a hash of the normalised email, whether or not the account exists) and per IP.
 * Over the limit, the key is blocked for `blockSeconds`.
 */
export class RedisLoginThrottle implements LoginThrottle {
  private readonly byAccount: RateLimiterRedis;
  private readonly byIp: RateLimiterRedis;

  private readonly blockSeconds: number;

  constructor(redis: Redis, s: LoginThrottleSettings) {
    this.blockSeconds = s.blockSeconds;
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

  async blockedFor(accountKey: string, ip: string): Promise<number> {
    const [account, byIp] = await Promise.all([this.byAccount.get(accountKey), this.byIp.get(ip)]);
    let waitMs = 0;
    if (account && account.consumedPoints > this.byAccount.points) waitMs = account.msBeforeNext;
    if (byIp && byIp.consumedPoints > this.byIp.points) waitMs = Math.max(waitMs, byIp.msBeforeNext);
    return Math.ceil(waitMs / 1000);
  }

  async recordFailure(accountKey: string, ip: string): Promise<void> {
    const count = async (l: RateLimiterRedis, key: string) => {
      let consumed: number;
      try {
        consumed = (await l.consume(key)).consumedPoints;
      } catch (err) {
        // Already over the limit is an answer, not an error.
        if (!(err instanceof RateLimiterRes)) throw err;
        return;
      }
      // The failure that reaches the limit blocks the key for the block duration.
      if (consumed >= l.points) await l.block(key, this.blockSeconds);
    };
    await Promise.all([count(this.byAccount, accountKey), count(this.byIp, ip)]);
  }

  async recordSuccess(accountKey: string): Promise<void> {
    await this.byAccount.delete(accountKey);
  }
}
