import { type AnyEvent, parseEvent } from '@mdp/contracts/events';
import { amqpCheck } from '@mdp/platform/amqp';
import type { RouteAuth } from '@mdp/platform/auth';
import { EventConsumer } from '@mdp/platform/consumer';
import { createHttpApp, type HttpApp } from '@mdp/platform/http';
import { pgCheck } from '@mdp/platform/postgres';
import type { AppKit } from '@mdp/platform/service';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Pool } from 'pg';
import { LogChannel, SlackChannel, WebhookChannel } from './adapters/channels.js';
import { PostgresNotificationStore } from './adapters/postgres.js';
import { BINDINGS, QUEUE } from './adapters/rabbitmq.js';
import { defaults } from './config.js';
import { type Channel, type ChannelSender, Notifier } from './domain/notifications.js';
import { FLAGS, HANDLER_FLAGS } from './flags.js';
import { notificationRoutes } from './routes/notifications.js';

export interface AppDeps extends AppKit {
  db: Pool;
  amqp: AmqpConnectionManager;
  auth: RouteAuth;
  /** Outbound webhook URLs (optional). */
  channels: { webhookUrl?: string | undefined; slackWebhookUrl?: string | undefined; timeoutMs?: number };
  retryDelaysMs?: number[];
  prefetch?: number;
  bodyLimit?: number;
}

/** The optional channels: each needs its URL and its feature flag on (per recipient). */
const OPTIONAL = [
  { channel: 'webhook', flag: 'notifications.webhook-enabled', url: 'webhookUrl' },
  { channel: 'slack', flag: 'notifications.slack-enabled', url: 'slackWebhookUrl' },
] as const;

export function buildApp(deps: AppDeps): { app: HttpApp; consumer: EventConsumer<AnyEvent> } {
  const { logger, metrics, flags } = deps;
  deps.health.add('postgres', pgCheck(deps.db)).add('rabbitmq', amqpCheck(deps.amqp));
  const store = new PostgresNotificationStore(deps.db);
  const timeout = deps.channels.timeoutMs ?? defaults.CHANNEL_TIMEOUT_MS;
  const senders: ChannelSender[] = [new LogChannel(logger)];
  if (deps.channels.webhookUrl) senders.push(new WebhookChannel(deps.channels.webhookUrl, timeout));
  if (deps.channels.slackWebhookUrl) senders.push(new SlackChannel(deps.channels.slackWebhookUrl, timeout));
  // notification-service's own metric (platform contract): notifications sent, by channel and outcome.
  const sent = metrics.counter('notifications_sent_total', 'Notifications sent', ['channel', 'outcome']);
  const notifier = new Notifier({
    store,
    senders,
    enabledChannels: async (userId) => {
      const on: Channel[] = [];
      for (const { channel, flag, url } of OPTIONAL)
        if (deps.channels[url] && (await flags.boolean(flag, FLAGS[flag].default, { targetingKey: userId })))
          on.push(channel);
      return on;
    },
    onSent: (channel, outcome) => sent.inc({ channel, outcome }),
  });
  const consumer = new EventConsumer<AnyEvent>(deps.amqp, {
    queue: QUEUE,
    bindings: BINDINGS,
    retryDelaysMs: deps.retryDelaysMs ?? [...defaults.RETRY_DELAYS_MS],
    prefetch: deps.prefetch ?? defaults.CONSUMER_PREFETCH,
    logger,
    metrics,
    // Each message is checked against the contract; one that fails goes to the DLQ with the reason.
    parse: parseEvent,
    handle: (event, delivery) => notifier.handle(event, { final: delivery.final }),
    // One kill switch per event handler (src/flags.ts).
    featureFlags: { flags, byEventType: HANDLER_FLAGS },
  });
  const app = createHttpApp({
    ...deps,
    openapi: {
      title: 'notification-service',
      description: 'Notifications sent to the signed-in user',
      tags: [
        { name: 'notifications', description: 'What the shop told the signed-in user, on which channel' },
      ],
    },
    routes: (scope) => notificationRoutes(scope, { store, auth: deps.auth }),
  });
  return { app, consumer };
}
