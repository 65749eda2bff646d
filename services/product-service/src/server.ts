import { runService } from '@mdp/platform/service';
import { jwtAuth } from './adapters/auth.js';
import { connectCatalogDb } from './adapters/catalog-db.js';
import { connectRabbitMq, RabbitCatalogEvents } from './adapters/rabbitmq.js';
import { connectRedis } from './adapters/redis.js';
import { buildApp } from './app.js';
import { configSchema, localDefaults } from './config.js';

await runService({
  name: 'product-service',
  config: configSchema,
  localDefaults,
  async start(kit) {
    const { config, lifecycle, logger } = kit;
    const catalog = connectCatalogDb(config.PRODUCT_DB_URL);
    lifecycle.on('pools', catalog.kind, () => catalog.close());
    await catalog.init();
    const redis = connectRedis(config.REDIS_URL, config.REDIS_KEY_PREFIX);
    const amqp = connectRabbitMq(config.AMQP_URL);
    const events = new RabbitCatalogEvents(amqp, kit);
    lifecycle.on('consumers', 'event-publisher', () => events.close());
    lifecycle.on('pools', 'rabbitmq', () => amqp.close());
    lifecycle.on('pools', 'redis', () => (redis.status === 'ready' ? redis.quit() : redis.disconnect()));
    logger.info({ store: catalog.kind }, 'catalog store selected');
    return buildApp({
      ...kit,
      catalog,
      redis,
      amqp,
      events,
      auth: jwtAuth(config.JWT_PUBLIC_KEY),
      stockLowThreshold: config.STOCK_LOW_THRESHOLD,
      cacheTtlSeconds: config.CACHE_TTL_SECONDS,
      bodyLimit: config.BODY_LIMIT_BYTES,
    });
  },
});
