import { createRedis } from '@mdp/platform/redis';

/** Redis: sessions and refresh tokens, under the `user:` key prefix. */
export function connectRedis(url: string, keyPrefix = 'user:') {
  const client = createRedis(url, { keyPrefix });
  client.connect().catch(() => {});
  return client;
}
