import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import amqplib from 'amqplib';
import { createAmqp } from '../src/amqp.js';
import { DEAD_LETTER_REASON_HEADER, EventConsumer, PermanentError, topologyNames } from '../src/consumer.js';
import { EVENTS_EXCHANGE, type EventEnvelope } from '../src/events.js';
import { createLogger } from '../src/logger.js';
import { Metrics } from '../src/metrics.js';
import { eventually, type TempVhost, tempVhost, testEvent } from '../src/testing.js';

const logger = createLogger({ service: 'consumer-test', level: 'silent' });
const QUEUE = 'consumer-test.events';

async function count(metrics: Metrics, outcome: string): Promise<number> {
  const m = (await metrics.registry.getSingleMetric('messages_consumed_total')?.get()) as
    | { values: { labels: Record<string, string>; value: number }[] }
    | undefined;
  return m?.values.find((v) => v.labels.queue === QUEUE && v.labels.outcome === outcome)?.value ?? 0;
}

describe('EventConsumer (real RabbitMQ vhost)', () => {
  let vhost: TempVhost;
  let conn: ReturnType<typeof createAmqp>;
  let raw: amqplib.ChannelModel;
  let pub: amqplib.ConfirmChannel;
  let consumer: EventConsumer<EventEnvelope>;
  const metrics = new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false });
  const seen = new Map<string, number>();
  const attempts: Record<string, number[]> = {};
  const done = new Set<string>();
  let behaviour: (e: EventEnvelope) => 'ok' | 'fail' | 'permanent' = () => 'ok';

  before(async () => {
    vhost = await tempVhost('consumer');
    conn = createAmqp(vhost.url, { name: 'consumer-test' });
    consumer = new EventConsumer(conn, {
      queue: QUEUE,
      bindings: ['order.*'],
      retryDelaysMs: [100, 200],
      prefetch: 5,
      logger,
      metrics,
      // The kit's consumer leaves the schema to the caller; this one wants an envelope with an id.
      parse: (body) => {
        const e = body as Partial<EventEnvelope> | null;
        if (!e || typeof e.id !== 'string' || typeof e.type !== 'string') throw new Error('no id and type');
        return e as EventEnvelope;
      },
      handle: async (event, delivery) => {
        seen.set(event.id, (seen.get(event.id) ?? 0) + 1);
        attempts[event.id] = [...(attempts[event.id] ?? []), delivery.attempt];
        if (done.has(event.id)) return 'duplicate';
        const b = behaviour(event);
        if (b === 'permanent') throw new PermanentError('never');
        if (b === 'fail') throw new Error('not now');
        done.add(event.id);
        return 'done';
      },
    });
    await consumer.start();
    raw = await amqplib.connect(vhost.url);
    pub = await raw.createConfirmChannel();
  });

  after(async () => {
    await consumer.stop();
    await conn.close();
    await raw.close();
    await vhost.drop();
  });

  const publish = async (routingKey: string, body: Buffer | object) => {
    pub.publish(
      EVENTS_EXCHANGE,
      routingKey,
      Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body)),
      {
        persistent: true,
      },
    );
    await pub.waitForConfirms();
  };
  const dlq = async () => {
    const ch = await raw.createChannel();
    try {
      return (await ch.checkQueue(topologyNames(QUEUE, 2).deadLetterQueue)).messageCount;
    } finally {
      await ch.close();
    }
  };

  test('handled once; a redelivered event is a duplicate', async () => {
    const e = testEvent('order.created', { n: 1 });
    await publish('order.created', e);
    await publish('order.created', e);
    await eventually(async () => (await count(metrics, 'duplicate')) === 1);
    assert.equal(await count(metrics, 'ack'), 1);
  });

  test('a failure is retried with the attempt counted, then succeeds', async () => {
    const e = testEvent('order.created', { n: 2 });
    let left = 2;
    behaviour = (ev) => (ev.id === e.id && left-- > 0 ? 'fail' : 'ok');
    await publish('order.created', e);
    await eventually(() => done.has(e.id), 5000);
    assert.deepEqual(attempts[e.id], [0, 1, 2]);
    behaviour = () => 'ok';
  });

  test('poison (not JSON, not an envelope) and PermanentError go to the DLQ at once; exhausted retries too', async () => {
    const before = await dlq();
    await publish('order.created', Buffer.from('not json'));
    await publish('order.created', { hello: 'world' });
    const permanent = testEvent('order.created', { n: 3 });
    const failing = testEvent('order.cancelled', { n: 4 });
    behaviour = (ev) => (ev.id === permanent.id ? 'permanent' : ev.id === failing.id ? 'fail' : 'ok');
    await publish('order.created', permanent);
    await publish('order.cancelled', failing);
    // Meanwhile, the queue keeps flowing.
    const fine = testEvent('order.created', { n: 5 });
    await publish('order.created', fine);
    await eventually(() => done.has(fine.id), 5000);
    await eventually(async () => (await dlq()) === before + 4, 8000, 100);
    assert.deepEqual(attempts[permanent.id], [0]);
    assert.deepEqual(attempts[failing.id], [0, 1, 2], 'bounded: first try + 2 retries');
    assert.equal(await count(metrics, 'dead_letter'), 4);
    behaviour = () => 'ok';
  });

  test('a dead-lettered message carries its reason', async () => {
    await publish('order.created', { hello: 'reasons' });
    const ch = await raw.createChannel();
    try {
      const reasons: string[] = [];
      await eventually(async () => {
        const msg = await ch.get(topologyNames(QUEUE, 2).deadLetterQueue, { noAck: true });
        if (msg) reasons.push(String(msg.properties.headers?.[DEAD_LETTER_REASON_HEADER]));
        return reasons.some((r) => r.includes('invalid event: no id and type'));
      }, 8000);
      assert.ok(reasons.includes('message body is not JSON'), reasons.join(' | '));
    } finally {
      await ch.close();
    }
  });
});
