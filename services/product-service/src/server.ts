import { runService } from '@mdp/platform/service';
import { connectCatalogDb } from './adapters/catalog-db.js';
import { connectRabbitMq } from './adapters/rabbitmq.js';
import { connectRedis } from './adapters/redis.js';
import { buildApp } from './app.js';
import { configSchema, localDefaults } from './config.js';

await runService({
  name: 'product-service',
  config: configSchema,
  localDefaults,
  async start(kit) {
    const { config, lifecycle } = kit;
    const catalog = connectCatalogDb(config.PRODUCT_DB_URL);
    const redis = connectRedis(config.REDIS_URL);
    const amqp = connectRabbitMq(config.AMQP_URL);
    lifecycle.on('pools', 'rabbitmq', () => amqp.close());
    lifecycle.on('pools', 'redis', () => redis.quit());
    lifecycle.on('pools', catalog.kind, () => catalog.close());
    kit.logger.info({ store: catalog.kind }, 'catalog store selected');
    return buildApp({ ...kit, catalog, redis, amqp, bodyLimit: config.BODY_LIMIT_BYTES });
  },
});
