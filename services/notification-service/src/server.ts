import { jwtRouteAuth } from '@mdp/platform/auth';
import { runService } from '@mdp/platform/service';
import { connectPostgres } from './adapters/postgres.js';
import { connectRabbitMq } from './adapters/rabbitmq.js';
import { buildApp } from './app.js';
import { definition } from './config.js';

await runService(definition, async (kit) => {
  const { config, lifecycle, logger } = kit;
  const db = connectPostgres(config.DATABASE_URL);
  const amqp = connectRabbitMq(config.AMQP_URL);
  const { app, consumer } = buildApp({
    ...kit,
    db,
    amqp,
    auth: jwtRouteAuth(config.JWT_PUBLIC_KEY),
    channels: {
      webhookUrl: config.WEBHOOK_URL,
      slackWebhookUrl: config.SLACK_WEBHOOK_URL,
      timeoutMs: config.CHANNEL_TIMEOUT_MS,
    },
    retryDelaysMs: config.RETRY_DELAYS_MS,
    prefetch: config.CONSUMER_PREFETCH,
    bodyLimit: config.BODY_LIMIT_BYTES,
  });
  // The consumer declares the topology and subscribes; it never blocks the start.
  consumer.start().catch((err) => logger.error({ err }, 'consumer start failed'));
  lifecycle.on('consumers', 'events-consumer', () => consumer.stop());
  lifecycle.on('pools', 'rabbitmq', () => amqp.close());
  lifecycle.on('pools', 'postgres', () => db.end());
  return app;
});
