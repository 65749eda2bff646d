import { jwtRouteAuth } from '@mdp/platform/auth';
import { runService } from '@mdp/platform/service';
import { requireService } from '@mdp/platform/service-tokens';
import { openCatalogDb } from './adapters/catalog-db.js';
import { BestEffortCatalogEvents, connectRabbitMq } from './adapters/rabbitmq.js';
import { connectRedis } from './adapters/redis.js';
import { buildApp } from './app.js';
import { definition } from './config.js';

await runService(definition, async (kit) => {
  const { config, lifecycle, logger } = kit;
  const catalog = await openCatalogDb(config.PRODUCT_DB_URL);
  lifecycle.on('pools', catalog.kind, () => catalog.close());
  const redis = connectRedis(config.REDIS_URL, config.REDIS_KEY_PREFIX);
  const amqp = connectRabbitMq(config.AMQP_URL);
  const events = new BestEffortCatalogEvents(amqp, kit);
  lifecycle.on('pools', 'rabbitmq', () => amqp.close());
  lifecycle.on('pools', 'redis', () => (redis.status === 'ready' ? redis.quit() : redis.disconnect()));
  logger.info({ store: catalog.kind }, 'catalog store selected');
  return buildApp({
    ...kit,
    catalog,
    redis,
    amqp,
    events,
    auth: jwtRouteAuth(config.JWT_PUBLIC_KEY),
    internalAuth: requireService({
      publicKey: config.JWT_SERVICE_PUBLIC_KEY,
      audience: definition.name,
      allowedCallers: config.INTERNAL_ALLOWED_CALLERS,
    }),
    stockLowThreshold: config.STOCK_LOW_THRESHOLD,
    cacheTtlSeconds: config.CACHE_TTL_SECONDS,
    bodyLimit: config.BODY_LIMIT_BYTES,
  });
});
