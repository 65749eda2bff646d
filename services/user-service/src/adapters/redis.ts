import { connectRedis as connect } from '@mdp/platform/redis';

/** Redis: refresh tokens and login-failure counters, under the `user:` key prefix. */
export function connectRedis(url: string, keyPrefix = 'user:') {
  return connect(url, { keyPrefix });
}
