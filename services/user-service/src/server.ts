import { runService } from '@mdp/platform/service';
import { connectPostgres } from './adapters/postgres.js';
import { connectRabbitMq } from './adapters/rabbitmq.js';
import { connectRedis } from './adapters/redis.js';
import { buildApp } from './app.js';
import { configSchema, localDefaults } from './config.js';

await runService({
  name: 'user-service',
  config: configSchema,
  localDefaults,
  async start(kit) {
    const { config, lifecycle } = kit;
    const db = connectPostgres(config.DATABASE_URL);
    const redis = connectRedis(config.REDIS_URL);
    const amqp = connectRabbitMq(config.AMQP_URL);
    lifecycle.on('pools', 'rabbitmq', () => amqp.close());
    lifecycle.on('pools', 'redis', () => redis.quit());
    lifecycle.on('pools', 'postgres', () => db.end());
    return buildApp({ ...kit, db, redis, amqp, bodyLimit: config.BODY_LIMIT_BYTES });
  },
});
