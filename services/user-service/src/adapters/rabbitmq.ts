import { createAmqp } from '@mdp/platform/amqp';
import { EventPublisher } from '@mdp/platform/events';
import type { Logger } from '@mdp/platform/logger';
import type { Metrics } from '@mdp/platform/metrics';
import { OutboxRelay } from '@mdp/platform/outbox';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type pg from 'pg';

/** RabbitMQ: publishes `user.registered` to `mdp.events`. */
export const connectRabbitMq = (url: string) => createAmqp(url, { name: 'user-service' });

/**
 * The relay that publishes the outbox rows (written in the registration transaction) with
 * publisher confirms. Started here, stopped by the caller (lifecycle phase `consumers`).
 */
export function startOutboxRelay(deps: {
  pool: pg.Pool;
  amqp: AmqpConnectionManager;
  logger: Logger;
  metrics: Metrics;
  intervalMs?: number;
  /** How long one publish waits for the broker's confirm. */
  publishTimeoutMs?: number;
}): { relay: OutboxRelay; publisher: EventPublisher; stop(): Promise<void> } {
  const publisher = new EventPublisher(deps.amqp, {
    logger: deps.logger,
    metrics: deps.metrics,
    ...(deps.publishTimeoutMs ? { timeoutMs: deps.publishTimeoutMs } : {}),
  });
  const relay = new OutboxRelay({
    pool: deps.pool,
    publisher,
    logger: deps.logger,
    metrics: deps.metrics,
    ...(deps.intervalMs ? { intervalMs: deps.intervalMs } : {}),
  });
  relay.start();
  return {
    relay,
    publisher,
    async stop() {
      await relay.stop();
      await publisher.close();
    },
  };
}
