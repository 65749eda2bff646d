import { runService } from '@mdp/platform/service';
import { connectPostgres } from './adapters/postgres.js';
import { connectRabbitMq } from './adapters/rabbitmq.js';
import { buildApp } from './app.js';
import { configSchema, localDefaults } from './config.js';

await runService({
  name: 'notification-service',
  config: configSchema,
  localDefaults,
  async start(kit) {
    const { config, lifecycle } = kit;
    const db = connectPostgres(config.DATABASE_URL);
    const amqp = connectRabbitMq(config.AMQP_URL);
    lifecycle.on('pools', 'rabbitmq', () => amqp.close());
    lifecycle.on('pools', 'postgres', () => db.end());
    const channels = { webhookUrl: config.WEBHOOK_URL, slackWebhookUrl: config.SLACK_WEBHOOK_URL };
    return buildApp({ ...kit, db, amqp, channels, bodyLimit: config.BODY_LIMIT_BYTES });
  },
});
