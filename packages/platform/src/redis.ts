import { Redis } from 'ioredis';

export interface RedisOptions {
  /** Prefix for every key this client touches (tests use a unique one per suite). */
  keyPrefix?: string;
  timeoutMs?: number;
}

/**
 * An ioredis client whose commands fail fast while Redis is away (no unbounded offline
 * queue), and reconnects by itself when it returns.
 */
export function createRedis(url: string, opts: RedisOptions = {}): Redis {
  const timeout = opts.timeoutMs ?? 2000;
  const client = new Redis(url, {
    keyPrefix: opts.keyPrefix,
    connectTimeout: timeout,
    commandTimeout: timeout,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    lazyConnect: true,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  // Errors surface through commands and /readyz; an unhandled 'error' event would crash.
  client.on('error', () => {});
  return client;
}

/** A client that starts connecting now (errors surface through commands and /readyz). */
export function connectRedis(url: string, opts: RedisOptions = {}): Redis {
  const client = createRedis(url, opts);
  client.connect().catch(() => {});
  return client;
}

export const redisCheck = (client: Redis) => async () => {
  const pong = await client.ping();
  if (pong !== 'PONG') throw new Error(`unexpected PING answer ${pong}`);
};
