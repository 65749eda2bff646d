import { connectRedis as connect, type RedisOptions } from '@mdp/platform/redis';

/** Redis: refresh tokens and login-failure counters, under the `user:` key prefix. */
export function connectRedis(
  url: string,
  failover: Pick<RedisOptions, 'sentinels' | 'masterName'> = {},
  keyPrefix = 'user:',
) {
  return connect(url, { ...failover, keyPrefix });
}
