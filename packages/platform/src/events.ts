import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import type { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import type { ConfirmChannel } from 'amqplib';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** Contract: one topic exchange, durable; routing key = event type. */
export const EVENTS_EXCHANGE = 'mdp.events';

/**
 * The message body (CloudEvents 1.0 field names). Which types exist and what their `data` holds
 * is the business contract (`@mdp/contracts/events`), not the kit's.
 */
export interface EventEnvelope<T = unknown> {
  specversion: '1.0';
  id: string;
  type: string;
  source: string;
  time: string;
  data: T;
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
 * broker is unreachable a publish waits (bounded by the timeout) for the reconnect.
 *
 * The message is written on the confirm channel by this call itself, inside the event's trace
 * context: the amqplib instrumentation starts its producer span (and writes `traceparent`) from
 * the context active at that moment. Going through amqp-connection-manager's queue instead lets a
 * message that waited (channel connecting, socket buffer full) be written later from another
 * context, so its producer span, and the consumer after it, landed in a foreign or new trace.
 */
export class EventPublisher {
  private readonly wrapper: ChannelWrapper;
  private channel: ConfirmChannel | undefined;
  private connecting: Promise<void> | undefined;
  private readonly timeoutMs: number;

  constructor(
    conn: AmqpConnectionManager,
    private readonly deps: { logger: Logger; metrics: Metrics; timeoutMs?: number },
  ) {
    this.timeoutMs = deps.timeoutMs ?? 5000;
    this.wrapper = conn.createChannel({
      name: 'event-publisher',
      confirm: true,
      setup: async (ch: ConfirmChannel) => {
        await declareEventsExchange(ch);
        this.channel = ch;
        ch.once('close', () => {
          if (this.channel === ch) this.channel = undefined;
        });
      },
    });
  }

  /** The open confirm channel, once (re)connected. */
  private async open(): Promise<ConfirmChannel> {
    while (!this.channel) {
      this.connecting ??= this.wrapper.waitForConnect().finally(() => {
        this.connecting = undefined;
      });
      await this.connecting;
    }
    return this.channel;
  }

  /**
   * `traceHeaders` (e.g. stored with an outbox row) make the publish continue that trace;
   * otherwise the active context is used.
   */
  async publish(event: EventEnvelope, traceHeaders?: Record<string, string>): Promise<void> {
    const parent = traceHeaders ? propagation.extract(ROOT_CONTEXT, traceHeaders) : context.active();
    const counter = this.deps.metrics.messagesPublished();
    const labels = { exchange: EVENTS_EXCHANGE, routing_key: event.type };
    const content = Buffer.from(JSON.stringify(event));
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        let timedOut = false;
        timer = setTimeout(() => {
          timedOut = true;
          reject(new Error(`publish not confirmed within ${this.timeoutMs} ms`));
        }, this.timeoutMs);
        const done = (err: unknown) => (err ? reject(err) : resolve());
        this.open().then(
          (ch) =>
            // A publish that already timed out is not sent late (its caller treats it as not sent).
            !timedOut &&
            context.with(parent, () => {
              const headers: Record<string, string> = {};
              propagation.inject(context.active(), headers);
              try {
                ch.publish(
                  EVENTS_EXCHANGE,
                  event.type,
                  content,
                  {
                    messageId: event.id,
                    type: event.type,
                    appId: event.source,
                    contentType: 'application/json',
                    persistent: true,
                    timestamp: Math.floor(Date.parse(event.time) / 1000),
                    headers,
                  },
                  done,
                );
              } catch (err) {
                done(err);
              }
            }),
          done,
        );
      });
      counter.inc({ ...labels, outcome: 'confirmed' });
    } catch (err) {
      counter.inc({ ...labels, outcome: 'failed' });
      this.deps.logger.warn({ err, eventId: event.id, type: event.type }, 'event publish failed');
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.wrapper.close();
  }
}
