import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import amqplib from 'amqplib';
import { createAmqp } from '../src/amqp.js';
import {
  consumerQueues,
  DEAD_LETTER_REASON_HEADER,
  declareConsumerTopology,
  EventConsumer,
  PermanentError,
  replaceEmptyClassicQueues,
  topologyNames,
} from '../src/consumer.js';
import { EVENTS_EXCHANGE, type EventEnvelope } from '../src/events.js';
import { createLogger } from '../src/logger.js';
import { Metrics } from '../src/metrics.js';
import { eventually, TEST_RABBIT_API, type TempVhost, tempVhost, testEvent } from '../src/testing.js';

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
    // The first handling is measured from the event's time; the duplicate is not.
    const delivery = (await metrics.registry.getSingleMetric('event_delivery_seconds')?.get()) as
      | { values: { labels: Record<string, string>; value: number; metricName?: string }[] }
      | undefined;
    const counted = delivery?.values.find(
      (v) =>
        v.metricName === 'event_delivery_seconds_count' &&
        v.labels.queue === QUEUE &&
        v.labels.event_type === 'order.created',
    );
    assert.equal(counted?.value, 1);
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

describe('queues declared before they were quorum queues (real RabbitMQ vhost)', () => {
  test('empty classic queues are replaced by quorum queues at start; one holding messages is kept', async () => {
    const vhost = await tempVhost('classic');
    const raw = await amqplib.connect(vhost.url);
    const queue = 'migrating.events';
    const names = topologyNames(queue, 2);
    try {
      // The topology as an earlier release declared it: classic queues; the DLQ holds a message.
      const old = await raw.createConfirmChannel();
      for (const name of [queue, names.deadLetterQueue, ...names.retryQueues])
        await old.assertQueue(name, { durable: true });
      old.sendToQueue(names.deadLetterQueue, Buffer.from('kept'));
      await old.waitForConfirms();
      await old.close();

      const api = new URL(TEST_RABBIT_API);
      const auth = Buffer.from(`${decodeURIComponent(api.username)}:${decodeURIComponent(api.password)}`);
      const typeOf = async (name: string) => {
        const res = await fetch(
          new URL(`/api/queues/${encodeURIComponent(vhost.vhost)}/${encodeURIComponent(name)}`, api.origin),
          {
            headers: { authorization: `Basic ${auth.toString('base64')}` },
            signal: AbortSignal.timeout(5000),
          },
        );
        return ((await res.json()) as { type: string }).type;
      };
      const all = [queue, names.deadLetterQueue, ...names.retryQueues];
      const queues = consumerQueues({ queue, retryDelaysMs: [100, 200] });

      // One of them holds a message: nothing is touched, the declaration is refused as before.
      await replaceEmptyClassicQueues(raw, queues, logger);
      const ch = await raw.createConfirmChannel();
      ch.on('error', () => {});
      await declareConsumerTopology(ch, { queue, bindings: ['order.*'], retryDelaysMs: [100, 200] }).then(
        () => assert.fail('a classic queue holding messages must still refuse the quorum declaration'),
        (err: Error) => assert.match(err.message, /inequivalent arg/),
      );
      for (const name of all) assert.equal(await typeOf(name), 'classic', name);
      const drain = await raw.createChannel();
      assert.equal((await drain.checkQueue(names.deadLetterQueue)).messageCount, 1);

      // Drained: all are replaced, and the declaration makes them quorum queues.
      await drain.purgeQueue(names.deadLetterQueue);
      await drain.close();
      await replaceEmptyClassicQueues(raw, queues, logger);
      const ch2 = await raw.createConfirmChannel();
      await declareConsumerTopology(ch2, { queue, bindings: ['order.*'], retryDelaysMs: [100, 200] });
      await ch2.close();
      for (const name of all) assert.equal(await typeOf(name), 'quorum', name);
    } finally {
      await raw.close().catch(() => {});
      await vhost.drop();
    }
  });
});
