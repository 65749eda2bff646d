import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAmqp } from '@mdp/platform/amqp';
import { EVENTS_EXCHANGE } from '@mdp/platform/events';
import { createLogger } from '@mdp/platform/logger';
import { eventually, type TempVhost, tempVhost } from '@mdp/platform/testing';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import amqplib from 'amqplib';
import { startOutboxRelay } from '../src/adapters/rabbitmq.js';
import { startUserService, type UserServiceHarness } from './harness.js';

interface Received {
  routingKey: string;
  body: { id: string; type: string; source: string; data: { userId: string; email: string; name: string } };
  props: amqplib.MessageProperties;
}

describe('user.registered through the transactional outbox (real PostgreSQL, Redis, RabbitMQ)', () => {
  let h: UserServiceHarness;
  let vhost: TempVhost;
  let amqp: AmqpConnectionManager;
  let consumer: amqplib.ChannelModel;
  const received: Received[] = [];
  const logger = createLogger({ service: 'user-service', level: 'silent' });

  before(async () => {
    vhost = await tempVhost('users');
    amqp = createAmqp(vhost.url, { name: 'user-service-test' });
    h = await startUserService({ amqp });
    consumer = await amqplib.connect(vhost.url);
    const ch = await consumer.createChannel();
    await ch.assertExchange(EVENTS_EXCHANGE, 'topic', { durable: true });
    const q = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(q.queue, EVENTS_EXCHANGE, 'user.*');
    await ch.consume(q.queue, (msg) => {
      if (!msg) return;
      received.push({
        routingKey: msg.fields.routingKey,
        body: JSON.parse(msg.content.toString()),
        props: msg.properties,
      });
      ch.ack(msg);
    });
  });

  after(async () => {
    await consumer?.close();
    await h?.close();
    await amqp?.close();
    await vhost?.drop();
  });

  const register = (email: string) =>
    h.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password: 'longenough1', name: 'Ev' },
    });

  it('a registration made while nothing relays is published once the relay runs', async () => {
    const res = await register(`queued-${Date.now()}@example.com`);
    assert.equal(res.statusCode, 201);
    const { id } = res.json();
    const pending = await h.pool.query('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL');
    assert.equal(pending.rows[0].n, 1);
    assert.equal(received.length, 0);

    const outbox = startOutboxRelay({ pool: h.pool, amqp, logger, metrics: h.metrics, intervalMs: 100 });
    try {
      const msg = await eventually(() => received.find((r) => r.body.data.userId === id), 10_000);
      assert.equal(msg.routingKey, 'user.registered');
      assert.equal(msg.body.type, 'user.registered');
      assert.equal(msg.body.source, 'user-service');
      assert.equal(msg.props.messageId, msg.body.id);
      assert.equal(msg.props.contentType, 'application/json');
      assert.equal(msg.props.deliveryMode, 2);
      await eventually(async () => {
        const r = await h.pool.query('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL');
        return r.rows[0].n === 0;
      });

      // And with the relay running, a new registration goes out promptly.
      const second = await register(`live-${Date.now()}@example.com`);
      const secondId = second.json().id;
      await eventually(() => received.find((r) => r.body.data.userId === secondId), 10_000);
      const metrics = await h.metrics.registry.getSingleMetricAsString('messages_published_total');
      assert.match(metrics, /routing_key="user.registered"/);
      assert.match(metrics, /outcome="confirmed"/);
    } finally {
      await outbox.stop();
    }
  });

  it('reports RabbitMQ in readiness when given the connection', async () => {
    const res = await eventually(async () => {
      const r = await h.app.inject({ url: '/readyz' });
      return r.statusCode === 200 ? r : undefined;
    });
    assert.ok(res.json().checks.rabbitmq);
  });
});
