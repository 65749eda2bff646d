import { connectRedis as connect } from '@mdp/platform/redis';

/** Redis: rate-limit counters shared by every gateway replica, under the `gw:` key prefix. */
export function connectRedis(url: string, keyPrefix = 'gw:') {
  return connect(url, { keyPrefix });
}
