import { randomUUID } from 'node:crypto';
import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import type { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import type { ConfirmChannel } from 'amqplib';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** Contract: one topic exchange, durable; routing key = event type. */
export const EVENTS_EXCHANGE = 'mdp.events';
export const EVENT_TYPES = [
  'user.registered',
  'order.created',
  'order.cancelled',
  'product.stock_low',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** CloudEvents 1.0 field names. */
export interface EventEnvelope<T = unknown> {
  specversion: '1.0';
  id: string;
  type: string;
  source: string;
  time: string;
  data: T;
}

export function createEvent<T>(type: EventType, source: string, data: T): EventEnvelope<T> {
  return { specversion: '1.0', id: randomUUID(), type, source, time: new Date().toISOString(), data };
}

/** The W3C trace context of the active span, as message headers. */
export function currentTraceHeaders(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

export async function declareEventsExchange(channel: ConfirmChannel): Promise<void> {
  await channel.assertExchange(EVENTS_EXCHANGE, 'topic', { durable: true });
}

/**
 * Publishes events to `mdp.events` with publisher confirms: `publish` resolves only once the
 * broker has taken responsibility for the message, and rejects on nack or timeout. While the
 * broker is unreachable the message waits (bounded by the timeout) for the reconnect.
 */
export class EventPublisher {
  private readonly channel: ChannelWrapper;

  constructor(
    conn: AmqpConnectionManager,
    private readonly deps: { logger: Logger; metrics: Metrics; timeoutMs?: number },
  ) {
    this.channel = conn.createChannel({
      name: 'event-publisher',
      confirm: true,
      publishTimeout: deps.timeoutMs ?? 5000,
      setup: (ch: ConfirmChannel) => declareEventsExchange(ch),
    });
  }

  /**
   * `traceHeaders` (e.g. stored with an outbox row) make the publish continue that trace;
   * otherwise the active context is used.
   */
  async publish(event: EventEnvelope, traceHeaders?: Record<string, string>): Promise<void> {
    const parent = traceHeaders ? propagation.extract(ROOT_CONTEXT, traceHeaders) : context.active();
    const counter = this.deps.metrics.messagesPublished();
    const labels = { exchange: EVENTS_EXCHANGE, routing_key: event.type };
    try {
      await context.with(parent, () => {
        const headers: Record<string, string> = {};
        propagation.inject(context.active(), headers);
        return this.channel.publish(EVENTS_EXCHANGE, event.type, Buffer.from(JSON.stringify(event)), {
          messageId: event.id,
          type: event.type,
          appId: event.source,
          contentType: 'application/json',
          persistent: true,
          timestamp: Math.floor(Date.parse(event.time) / 1000),
          headers,
        });
      });
      counter.inc({ ...labels, outcome: 'confirmed' });
    } catch (err) {
      counter.inc({ ...labels, outcome: 'failed' });
      this.deps.logger.warn({ err, eventId: event.id, type: event.type }, 'event publish failed');
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.channel.close();
  }
}
