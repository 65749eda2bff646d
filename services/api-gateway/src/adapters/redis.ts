import { connectRedis as connect, type RedisOptions } from '@mdp/platform/redis';

/** Redis: rate-limit counters shared by every gateway replica, under the `gw:` key prefix. */
export function connectRedis(
  url: string,
  failover: Pick<RedisOptions, 'sentinels' | 'masterName'> = {},
  keyPrefix = 'gw:',
) {
  return connect(url, { ...failover, keyPrefix });
}
