import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { waitForReplicas } from '@mdp/platform/redis';
import type { Redis } from 'ioredis';
import type { RefreshTokenStore, RotateResult } from '../domain/ports.js';

export interface RefreshTokenSettings {
  /** Lifetime of one token (sliding: each rotation issues a fresh one). */
  ttlSeconds: number;
  /** Absolute lifetime of a family (a login); no rotation extends it. */
  familyTtlSeconds: number;
  /**
   * Replicas that must hold a new token before it is handed out (Redis WAIT, within
   * `replicaAckTimeoutMs`); 0 = the primary's acknowledgement is enough.
   */
  minReplicaAcks?: number;
  replicaAckTimeoutMs?: number;
}

const hashOf = (token: string) => createHash('sha256').update(token).digest('base64url');
const tokenKey = (token: string) => `rt:${hashOf(token)}`;
const familyKey = (family: string) => `rf:${family}`;
/** The families of a user (a set, expiring with the longest-lived family), for `revokeAll`. */
const userFamiliesKey = (userId: string) => `ru:${userId}`;

/** Marks a token used (atomically) and returns [userId, family, useCount], or null if unknown. */
const USE_TOKEN = `
local uid = redis.call('HGET', KEYS[1], 'uid')
if not uid then return false end
local used = redis.call('HINCRBY', KEYS[1], 'used', 1)
return {uid, redis.call('HGET', KEYS[1], 'fam'), used}
`;

type UseToken = (key: string) => Promise<[string, string, number] | null>;

/**
 * Opaque refresh tokens (256 random bits) kept in Redis only as SHA-256 hashes, with a TTL.
 * Each token belongs to a family (one login). A token works once: `rotate` marks it used and
 * issues its successor. Using a token a second time means it leaked (or a replay), so the
 * whole family is revoked and every token in it stops working. Used tokens stay in Redis until
 * their TTL so that reuse can be recognised.
 */
export class RedisRefreshTokenStore implements RefreshTokenStore {
  private readonly useToken: UseToken;

  constructor(
    private readonly redis: Redis,
    private readonly settings: RefreshTokenSettings,
  ) {
    if (!('mdpUseRefreshToken' in redis))
      redis.defineCommand('mdpUseRefreshToken', { numberOfKeys: 1, lua: USE_TOKEN });
    const r = redis as unknown as { mdpUseRefreshToken: UseToken };
    this.useToken = (key) => r.mdpUseRefreshToken(key);
  }

  private async store(userId: string, family: string, ttlMs: number): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const key = tokenKey(token);
    await this.redis.multi().hset(key, { uid: userId, fam: family, used: 0 }).pexpire(key, ttlMs).exec();
    // WAIT covers every earlier write of this connection too: the family key, and the
    // `used` mark of the token this one replaces.
    await waitForReplicas(
      this.redis,
      this.settings.minReplicaAcks ?? 0,
      this.settings.replicaAckTimeoutMs ?? 1000,
    );
    return token;
  }

  async issue(userId: string): Promise<string> {
    const family = randomUUID();
    const ttlMs = this.settings.familyTtlSeconds * 1000;
    await this.redis
      .multi()
      .set(familyKey(family), userId, 'PX', ttlMs)
      .sadd(userFamiliesKey(userId), family)
      .pexpire(userFamiliesKey(userId), ttlMs)
      .exec();
    return this.store(userId, family, Math.min(this.settings.ttlSeconds * 1000, ttlMs));
  }

  async rotate(token: string): Promise<RotateResult> {
    const used = await this.useToken(tokenKey(token));
    if (!used) return { outcome: 'invalid' };
    const [userId, family, count] = used;
    if (Number(count) > 1) {
      await this.redis.del(familyKey(family));
      return { outcome: 'reused', userId };
    }
    const familyLeftMs = await this.redis.pttl(familyKey(family));
    if (familyLeftMs <= 0) return { outcome: 'invalid' };
    const refreshToken = await this.store(
      userId,
      family,
      Math.min(this.settings.ttlSeconds * 1000, familyLeftMs),
    );
    return { outcome: 'rotated', userId, refreshToken };
  }

  async revokeAll(userId: string): Promise<void> {
    const families = await this.redis.smembers(userFamiliesKey(userId));
    const multi = this.redis.multi();
    for (const family of families) multi.del(familyKey(family));
    await multi.del(userFamiliesKey(userId)).exec();
  }

  async revoke(token: string, userId: string): Promise<void> {
    const key = tokenKey(token);
    const [uid, family] = await this.redis.hmget(key, 'uid', 'fam');
    // Someone else's token is left alone (and the caller learns nothing about it).
    if (!uid || uid !== userId || !family) return;
    await this.redis.multi().del(familyKey(family)).hset(key, 'used', 1).exec();
  }
}
