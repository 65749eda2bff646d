import { EventPublisher } from '@mdp/platform/events';
import { OutboxRelay } from '@mdp/platform/outbox';
import { migrate } from '@mdp/platform/postgres';
import { runService } from '@mdp/platform/service';
import { jwtAuth } from './adapters/auth.js';
import { connectPostgres, MIGRATIONS_DIR } from './adapters/postgres.js';
import { ProductServiceClient } from './adapters/product-service.js';
import { connectRabbitMq } from './adapters/rabbitmq.js';
import { buildApp } from './app.js';
import { configSchema, localDefaults } from './config.js';

await runService({
  name: 'order-service',
  config: configSchema,
  localDefaults,
  async start(kit) {
    const { config, lifecycle, logger, metrics } = kit;
    if (config.NODE_ENV !== 'production') await migrate(config.DATABASE_URL, MIGRATIONS_DIR, logger);
    const db = connectPostgres(config.DATABASE_URL, config.PG_POOL_MAX);
    const amqp = connectRabbitMq(config.AMQP_URL);
    const inventory = new ProductServiceClient({
      baseUrl: config.PRODUCT_SERVICE_URL,
      logger,
      timeoutMs: config.PRODUCT_SERVICE_TIMEOUT_MS,
      retries: config.PRODUCT_SERVICE_RETRIES,
    });
    const publisher = new EventPublisher(amqp, { logger, metrics });
    const relay = new OutboxRelay({
      pool: db,
      publisher,
      logger,
      metrics,
      intervalMs: config.OUTBOX_INTERVAL_MS,
    });
    const { app, orders } = buildApp({
      ...kit,
      db,
      amqp,
      inventory,
      auth: jwtAuth(config.JWT_PUBLIC_KEY),
      bodyLimit: config.BODY_LIMIT_BYTES,
    });
    relay.start();
    // Stock releases product-service missed (it was down) are retried until they land.
    const releases = setInterval(() => {
      orders.retryPendingReleases().catch((err) => logger.warn({ err }, 'pending release retry failed'));
    }, 5000);
    releases.unref();
    lifecycle.on('consumers', 'outbox-relay', () => relay.stop());
    lifecycle.on('consumers', 'pending-releases', () => clearInterval(releases));
    lifecycle.on('consumers', 'product-service-breaker', () => inventory.shutdown());
    lifecycle.on('pools', 'event-publisher', () => publisher.close());
    lifecycle.on('pools', 'rabbitmq', () => amqp.close());
    lifecycle.on('pools', 'postgres', () => db.end());
    return app;
  },
});
