import { runService } from '@mdp/platform/service';
import { connectPostgres } from './adapters/postgres.js';
import { connectRabbitMq } from './adapters/rabbitmq.js';
import { buildApp } from './app.js';
import { configSchema, localDefaults } from './config.js';

await runService({
  name: 'order-service',
  config: configSchema,
  localDefaults,
  async start(kit) {
    const { config, lifecycle } = kit;
    const db = connectPostgres(config.DATABASE_URL);
    const amqp = connectRabbitMq(config.AMQP_URL);
    lifecycle.on('pools', 'rabbitmq', () => amqp.close());
    lifecycle.on('pools', 'postgres', () => db.end());
    return buildApp({
      ...kit,
      db,
      amqp,
      productServiceUrl: config.PRODUCT_SERVICE_URL,
      bodyLimit: config.BODY_LIMIT_BYTES,
    });
  },
});
