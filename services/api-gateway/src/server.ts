import { failoverOptions } from '@mdp/platform/redis';
import { runService } from '@mdp/platform/service';
import { connectRedis } from './adapters/redis.js';
import { buildApp } from './app.js';
import { definition } from './config.js';

await runService(definition, async (kit) => {
  const { config, lifecycle } = kit;
  const redis = connectRedis(config.REDIS_URL, failoverOptions(config));
  lifecycle.on('pools', 'redis', () => redis.quit());
  return buildApp({
    ...kit,
    redis,
    upstreams: {
      user: config.USER_SERVICE_URL,
      product: config.PRODUCT_SERVICE_URL,
      order: config.ORDER_SERVICE_URL,
      notification: config.NOTIFICATION_SERVICE_URL,
    },
    jwtPublicKey: config.JWT_PUBLIC_KEY,
    upstreamTimeoutMs: config.UPSTREAM_TIMEOUT_MS,
    authRateLimitPerMinute: config.AUTH_RATE_LIMIT_PER_MINUTE,
    corsOrigins: config.CORS_ORIGINS,
    trustProxy: config.TRUST_PROXY,
    bodyLimit: config.BODY_LIMIT_BYTES,
  });
});
