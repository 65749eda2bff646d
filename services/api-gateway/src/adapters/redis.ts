import { createRedis } from '@mdp/platform/redis';

/** Redis: rate-limit counters shared by every gateway replica, under the `gw:` key prefix. */
export function connectRedis(url: string, keyPrefix = 'gw:') {
  const client = createRedis(url, { keyPrefix });
  client.connect().catch(() => {});
  return client;
}
