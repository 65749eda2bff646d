import type { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { DEAD_LETTER_EXCHANGE } from './amqp.js';
import { declareEventsExchange, EVENTS_EXCHANGE } from './events.js';
import { FeatureDisabledError, type Flags, operationEnabled } from './flags.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** Thrown by a handler for a message that can never succeed: dead-lettered at once, no retries. */
export class PermanentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentError';
  }
}

export interface Delivery {
  /** 0 for the first delivery, n for the n-th retry. */
  attempt: number;
  /** True when a failure now sends the message to the dead-letter queue. */
  final: boolean;
  message: ConsumeMessage;
}

/** 'done' = handled; 'duplicate' = already handled before (by event id): nothing was done. */
export type HandleResult = 'done' | 'duplicate';

/** The least a consumed event has: an id (for idempotency and logs) and a type. */
export interface ConsumedEvent {
  id: string;
  type: string;
  /** When the producer says the event happened (the envelope's `time`): measures the delivery delay. */
  time?: string;
}

export interface ConsumerOptions<E extends ConsumedEvent> {
  /** The service's queue, e.g. `notification-service.events`. */
  queue: string;
  /** Routing keys (event types, or topic patterns) bound from `mdp.events`. */
  bindings: string[];
  /** Delay before each retry; its length is the number of retries. Default 1 s, 5 s, 15 s. */
  retryDelaysMs?: number[];
  prefetch?: number;
  logger: Logger;
  metrics: Metrics;
  /**
   * Checks a parsed JSON body and returns the event (e.g. `parseEvent` of `@mdp/contracts/events`);
   * throws on a message that is not a valid event: it is dead-lettered at once with the reason.
   */
  parse(body: unknown): E;
  handle(event: E, delivery: Delivery): Promise<HandleResult>;
  /**
   * The kill-switch flag of each event handler (event type → boolean flag). While a handler's flag
   * is off its messages are not handled: they go through the retry queues and, after the last
   * retry, to the dead-letter queue with reason FEATURE_DISABLED (replayable), never lost.
   */
  featureFlags?: { flags: Pick<Flags, 'boolean'>; byEventType: Record<string, string> };
}

/** One event handler a consumer registered: the event type and its kill-switch flag (if any). */
export interface HandlerOperation {
  queue: string;
  eventType: string;
  featureFlag: string | undefined;
}

/** Every consumer constructed in this process, for `npm run flags:report`. */
export const registeredConsumers = new Set<{ operations(): HandlerOperation[] }>();

const RETRY_HEADER = 'x-mdp-retry';
/** Set on a dead-lettered message: why it was given up (validation error, last failure). */
export const DEAD_LETTER_REASON_HEADER = 'x-mdp-dead-letter-reason';

/** The retry delays when a consumer names none (databases/rabbitmq/definitions.json has the same TTLs). */
export const DEFAULT_RETRY_DELAYS_MS = [1000, 5000, 15_000];

/**
 * Every queue is a quorum queue (Raft-replicated over the broker's nodes; a majority holds
 * each message before the publisher's confirm), so a broker node can die without losing or
 * blocking a queue. Same arguments as databases/rabbitmq/definitions.json.
 */
export const QUORUM = { 'x-queue-type': 'quorum' } as const;
/**
 * Dead-lettering out of a quorum queue (to the DLQ, and from a retry queue back to the service
 * queue when its delay expires) keeps the message until the target queue has confirmed it;
 * RabbitMQ requires `reject-publish` overflow for that.
 */
export const AT_LEAST_ONCE_DEAD_LETTERING = {
  'x-dead-letter-strategy': 'at-least-once',
  'x-overflow': 'reject-publish',
} as const;

/** The names a consumer's topology uses. */
export function topologyNames(queue: string, retries: number) {
  return {
    exchange: EVENTS_EXCHANGE,
    deadLetterExchange: DEAD_LETTER_EXCHANGE,
    queue,
    deadLetterQueue: `${queue}.dlq`,
    retryQueues: Array.from({ length: retries }, (_, i) => `${queue}.retry.${i + 1}`),
  };
}

/**
 * Declares (idempotently) the topology of one consuming service, all quorum queues:
 * - `mdp.events` (topic) → `<queue>` for each binding;
 * - `<queue>` dead-letters to `mdp.events.dlx` (topic) with routing key `<queue>`, where
 *   `<queue>.dlq` is bound: what fails for good ends there;
 * - `<queue>.retry.N` hold a failed message for the N-th delay (queue TTL), then dead-letter
 *   it back to `<queue>` through the default exchange. Retries wait beside the queue, never
 *   in front of it: a failing message does not block the ones behind it.
 */
export async function declareConsumerTopology(
  ch: ConfirmChannel,
  opts: { queue: string; bindings: string[]; retryDelaysMs: number[] },
): Promise<void> {
  const names = topologyNames(opts.queue, opts.retryDelaysMs.length);
  await declareEventsExchange(ch);
  await ch.assertExchange(names.deadLetterExchange, 'topic', { durable: true });
  for (const q of consumerQueues(opts)) await ch.assertQueue(q.name, q.options);
  await ch.bindQueue(names.deadLetterQueue, names.deadLetterExchange, opts.queue);
  for (const key of opts.bindings) await ch.bindQueue(opts.queue, EVENTS_EXCHANGE, key);
}

/** The queues of one consumer with their declaration options. */
export function consumerQueues(opts: { queue: string; retryDelaysMs: readonly number[] }) {
  const names = topologyNames(opts.queue, opts.retryDelaysMs.length);
  return [
    { name: names.deadLetterQueue, options: { durable: true, arguments: { ...QUORUM } } },
    {
      name: opts.queue,
      options: {
        durable: true,
        arguments: {
          ...QUORUM,
          ...AT_LEAST_ONCE_DEAD_LETTERING,
          'x-dead-letter-exchange': names.deadLetterExchange,
          'x-dead-letter-routing-key': opts.queue,
        },
      },
    },
    ...names.retryQueues.map((name, i) => ({
      name,
      options: {
        durable: true,
        arguments: {
          ...QUORUM,
          ...AT_LEAST_ONCE_DEAD_LETTERING,
          'x-message-ttl': opts.retryDelaysMs[i],
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': opts.queue,
        },
      },
    })),
  ];
}

/**
 * A broker that still has these queues as classic queues (declared before they became quorum
 * queues), or with other arguments, refuses the declaration (PRECONDITION_FAILED, inequivalent
 * arg — x-queue-type, x-overflow, ...). When every such queue is empty they are deleted here, so that the declaration recreates them as quorum
 * queues with their bindings; when one holds messages, none is touched and that is logged: drain
 * them first (docs/operations/rabbitmq-node-loss.md). Each probe runs on a channel of its own,
 * since a refused declaration closes its channel.
 */
export async function replaceEmptyClassicQueues(
  conn: Pick<ChannelModel, 'createChannel'>,
  queues: { name: string; options: Options.AssertQueue }[],
  logger: Logger,
): Promise<void> {
  const onChannel = async <T>(fn: (ch: Channel) => Promise<T>): Promise<T | Error> => {
    const ch = await conn.createChannel();
    ch.on('error', () => {});
    try {
      const result = await fn(ch);
      await ch.close().catch(() => {});
      return result;
    } catch (err) {
      return err as Error;
    }
  };
  const classic: string[] = [];
  for (const q of queues) {
    const r = await onChannel((ch) => ch.assertQueue(q.name, q.options));
    if (r instanceof Error && /inequivalent arg/.test(r.message)) classic.push(q.name);
  }
  if (classic.length === 0) return;
  const counts = await Promise.all(classic.map((name) => onChannel((ch) => ch.checkQueue(name))));
  const holding = classic.filter((_, i) => {
    const c = counts[i];
    return c instanceof Error || c === undefined || c.messageCount > 0;
  });
  if (holding.length > 0) {
    logger.error(
      { queues: holding },
      'classic queues hold messages: drain them before they can become quorum queues',
    );
    return;
  }
  for (const name of classic) await onChannel((ch) => ch.deleteQueue(name, { ifEmpty: true }));
  logger.warn({ queues: classic }, 'empty classic queues deleted, to be declared as quorum queues');
}

function parseBody(msg: ConsumeMessage): unknown {
  try {
    return JSON.parse(msg.content.toString('utf8'));
  } catch {
    throw new PermanentError('message body is not JSON');
  }
}

/**
 * Consumes one queue with manual acks: idempotency is the handler's (it answers 'duplicate'),
 * failures are retried with growing delays a bounded number of times, then dead-lettered;
 * a poison message (not JSON, refused by `parse`, or a PermanentError) is dead-lettered at once.
 * A dead-lettered message carries its reason in the `x-mdp-dead-letter-reason` header.
 * Counts messages_consumed_total{queue, outcome}. Survives broker restarts (re-declares and
 * re-subscribes on reconnect; unacked messages are redelivered and deduplicated by event id).
 */
export class EventConsumer<E extends ConsumedEvent> {
  private readonly channel: ChannelWrapper;
  private readonly delays: number[];
  private consumerTag: string | undefined;
  private current: ConfirmChannel | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private stopping = false;

  constructor(
    conn: AmqpConnectionManager,
    private readonly opts: ConsumerOptions<E>,
  ) {
    this.delays = opts.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    registeredConsumers.add(this);
    this.channel = conn.createChannel({
      name: `${opts.queue}-consumer`,
      confirm: true,
      json: false,
      setup: async (ch: ConfirmChannel) => {
        const model = conn.connection;
        if (model)
          await replaceEmptyClassicQueues(
            model,
            consumerQueues({ queue: opts.queue, retryDelaysMs: this.delays }),
            opts.logger,
          );
        await declareConsumerTopology(ch, {
          queue: opts.queue,
          bindings: opts.bindings,
          retryDelaysMs: this.delays,
        });
        if (this.stopping) return;
        await ch.prefetch(opts.prefetch ?? 20);
        const { consumerTag } = await ch.consume(opts.queue, (msg) => {
          if (!msg) return;
          const p = this.onMessage(ch, msg).finally(() => this.inFlight.delete(p));
          this.inFlight.add(p);
        });
        this.consumerTag = consumerTag;
        this.current = ch;
      },
    });
  }

  /** The handlers of this consumer: one per bound event type, with its kill-switch flag. */
  operations(): HandlerOperation[] {
    return this.opts.bindings.map((eventType) => ({
      queue: this.opts.queue,
      eventType,
      featureFlag: this.opts.featureFlags?.byEventType[eventType],
    }));
  }

  /** Resolves once the topology is declared and the subscription is live. */
  async start(): Promise<void> {
    await this.channel.waitForConnect();
  }

  private count(outcome: 'ack' | 'retry' | 'dead_letter' | 'duplicate') {
    this.opts.metrics.messagesConsumed().inc({ queue: this.opts.queue, outcome });
  }

  /** Delay from the event's time to now, for an event handled for the first time. */
  private observeDelivery(event: E) {
    const at = event.time ? Date.parse(event.time) : Number.NaN;
    if (Number.isNaN(at)) return;
    this.opts.metrics
      .eventDelivery()
      .observe({ queue: this.opts.queue, event_type: event.type }, Math.max(0, (Date.now() - at) / 1000));
  }

  private async onMessage(ch: ConfirmChannel, msg: ConsumeMessage): Promise<void> {
    const { logger } = this.opts;
    const attempt = Number(msg.properties.headers?.[RETRY_HEADER] ?? 0) || 0;
    const final = attempt >= this.delays.length;
    let event: E | undefined;
    try {
      const body = parseBody(msg);
      try {
        event = this.opts.parse(body);
      } catch (err) {
        throw new PermanentError(`invalid event: ${(err as Error).message}`);
      }
      const gate = this.opts.featureFlags;
      const flag = gate?.byEventType[event.type];
      if (gate && flag && !(await operationEnabled(gate.flags, flag))) {
        logger.warn(
          { featureFlag: flag, eventId: event.id, type: event.type },
          'event handler disabled by feature flag',
        );
        throw new FeatureDisabledError(flag, `handler of ${event.type}`);
      }
      const result = await this.opts.handle(event, { attempt, final, message: msg });
      ch.ack(msg);
      this.count(result === 'duplicate' ? 'duplicate' : 'ack');
      if (result !== 'duplicate') this.observeDelivery(event);
    } catch (err) {
      const ctx = { err, eventId: event?.id, type: event?.type, attempt, queue: this.opts.queue };
      if (err instanceof PermanentError || final) {
        const reason = String((err as Error)?.message ?? err).slice(0, 1000);
        logger.error({ ...ctx, reason }, 'message dead-lettered');
        await this.deadLetter(ch, msg, reason);
        this.count('dead_letter');
        return;
      }
      const retryQueue = topologyNames(this.opts.queue, this.delays.length).retryQueues[attempt] as string;
      try {
        // Same body and properties (trace headers included), one more retry counted.
        await new Promise<void>((resolve, reject) => {
          ch.sendToQueue(
            retryQueue,
            msg.content,
            {
              ...msg.properties,
              headers: { ...(msg.properties.headers ?? {}), [RETRY_HEADER]: attempt + 1 },
            },
            (e) => (e ? reject(e) : resolve()),
          );
        });
        ch.ack(msg);
        this.count('retry');
        logger.warn(
          { ...ctx, retryQueue, delayMs: this.delays[attempt] },
          'message handling failed; retrying later',
        );
      } catch (e2) {
        // Could not park it for a retry: put it back (redelivered now).
        logger.warn({ err: e2, eventId: event?.id }, 'retry publish failed; requeueing');
        ch.nack(msg, false, true);
      }
    }
  }

  /**
   * To `<queue>.dlq` through the dead-letter exchange, with the reason in a header; if that
   * publish fails, rejected instead (the queue's own dead-lettering, without the reason).
   */
  private async deadLetter(ch: ConfirmChannel, msg: ConsumeMessage, reason: string): Promise<void> {
    try {
      await new Promise<void>((resolve, reject) => {
        ch.publish(
          DEAD_LETTER_EXCHANGE,
          this.opts.queue,
          msg.content,
          {
            ...msg.properties,
            headers: { ...(msg.properties.headers ?? {}), [DEAD_LETTER_REASON_HEADER]: reason },
          },
          (e) => (e ? reject(e) : resolve()),
        );
      });
      ch.ack(msg);
    } catch (err) {
      this.opts.logger.warn({ err, queue: this.opts.queue }, 'dead-letter publish failed; rejecting');
      ch.nack(msg, false, false);
    }
  }

  /** Stops taking messages, lets the ones in hand finish, closes the channel. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.current && this.consumerTag) await this.current.cancel(this.consumerTag).catch(() => {});
    await Promise.allSettled([...this.inFlight]);
    await this.channel.close();
    registeredConsumers.delete(this);
  }
}
