import { amqpCheck } from '@mdp/platform/amqp';
import { EventConsumer, PermanentError } from '@mdp/platform/consumer';
import type { Flags } from '@mdp/platform/flags';
import type { Health } from '@mdp/platform/health';
import { createHttpApp, type HttpApp, type ServiceInfo } from '@mdp/platform/http';
import type { Logger } from '@mdp/platform/logger';
import type { Metrics } from '@mdp/platform/metrics';
import { registerOpenApi } from '@mdp/platform/openapi';
import { pgCheck } from '@mdp/platform/postgres';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Pool } from 'pg';
import { LogChannel, SlackChannel, WebhookChannel } from './adapters/channels.js';
import { PostgresNotificationStore } from './adapters/postgres.js';
import { BINDINGS, QUEUE } from './adapters/rabbitmq.js';
import { type Channel, type ChannelSender, MalformedEventError, Notifier } from './domain/notifications.js';
import { FLAGS } from './flags.js';
import type { RouteAuth } from './routes/auth.js';
import { notificationRoutes } from './routes/notifications.js';

export interface AppDeps {
  info: ServiceInfo;
  logger: Logger;
  metrics: Metrics;
  health: Health;
  flags: Flags;
  db: Pool;
  amqp: AmqpConnectionManager;
  auth: RouteAuth;
  /** Outbound webhook URLs (optional). */
  channels: { webhookUrl?: string | undefined; slackWebhookUrl?: string | undefined; timeoutMs?: number };
  retryDelaysMs?: number[];
  prefetch?: number;
  bodyLimit?: number;
}

export function buildApp(deps: AppDeps): { app: HttpApp; consumer: EventConsumer } {
  const { logger, metrics, flags } = deps;
  deps.health.add('postgres', pgCheck(deps.db)).add('rabbitmq', amqpCheck(deps.amqp));
  const app = createHttpApp(deps);
  const store = new PostgresNotificationStore(deps.db);
  const timeout = deps.channels.timeoutMs ?? 3000;
  const senders: ChannelSender[] = [new LogChannel(logger)];
  if (deps.channels.webhookUrl) senders.push(new WebhookChannel(deps.channels.webhookUrl, timeout));
  if (deps.channels.slackWebhookUrl) senders.push(new SlackChannel(deps.channels.slackWebhookUrl, timeout));
  const sent = metrics.notificationsSent();
  const notifier = new Notifier({
    store,
    senders,
    logger,
    enabledChannels: async (userId) => {
      const ctx = { targetingKey: userId };
      const on: Channel[] = [];
      if (
        deps.channels.webhookUrl &&
        (await flags.boolean(
          'notifications.webhook-enabled',
          FLAGS['notifications.webhook-enabled'].default,
          ctx,
        ))
      )
        on.push('webhook');
      if (
        deps.channels.slackWebhookUrl &&
        (await flags.boolean(
          'notifications.slack-enabled',
          FLAGS['notifications.slack-enabled'].default,
          ctx,
        ))
      )
        on.push('slack');
      return on;
    },
    onSent: (channel, outcome) => sent.inc({ channel, outcome }),
  });
  const consumer = new EventConsumer(deps.amqp, {
    queue: QUEUE,
    bindings: BINDINGS,
    retryDelaysMs: deps.retryDelaysMs,
    prefetch: deps.prefetch,
    logger,
    metrics,
    handle: async (event, delivery) => {
      try {
        return await notifier.handle(event as never, { final: delivery.final });
      } catch (err) {
        if (err instanceof MalformedEventError) throw new PermanentError(err.message);
        throw err;
      }
    },
  });
  registerOpenApi(app, {
    title: 'notification-service',
    version: deps.info.version,
    description: 'Notifications sent to the signed-in user',
  });
  // Inside a plugin, so that @fastify/swagger (registered above) sees the routes.
  app.register(async (scope: HttpApp) => {
    notificationRoutes(scope, { store, auth: deps.auth });
  });
  return { app, consumer };
}
