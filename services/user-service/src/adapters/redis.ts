import { createRedis } from '@mdp/platform/redis';

/** Redis: refresh tokens and login-failure counters, under the `user:` key prefix. */
export function connectRedis(url: string, keyPrefix = 'user:') {
  const client = createRedis(url, { keyPrefix });
  client.connect().catch(() => {});
  return client;
}
