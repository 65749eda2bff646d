import { createRedis } from '@mdp/platform/redis';

/** Redis: the product read cache, under the `catalog:` key prefix. */
export function connectRedis(url: string, keyPrefix = 'catalog:') {
  const client = createRedis(url, { keyPrefix });
  client.connect().catch(() => {});
  return client;
}
