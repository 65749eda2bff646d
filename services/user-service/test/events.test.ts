import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAmqp } from '@mdp/platform/amqp';
import { EVENTS_EXCHANGE } from '@mdp/platform/events';
import { createLogger } from '@mdp/platform/logger';
import { startOutbox } from '@mdp/platform/outbox';
import { eventually, type TempVhost, tempVhost } from '@mdp/platform/testing';
import amqplib from 'amqplib';
import { startUserService, type UserServiceHarness } from './harness.js';

interface Received {
  routingKey: string;
  body: { id: string; type: string; source: string; data: { userId: string; email: string; name: string } };
  props: amqplib.MessageProperties;
}

describe('user.registered through the transactional outbox (real PostgreSQL, Redis, RabbitMQ)', () => {
  let h: UserServiceHarness;
  let vhost: TempVhost;
  let consumer: amqplib.ChannelModel;
  const received: Received[] = [];
  const logger = createLogger({ service: 'user-service', level: 'silent' });
  // The test stops each outbox itself; the closers they register are not run.
  const lifecycle = { on: () => lifecycle };

  before(async () => {
    vhost = await tempVhost('users');
    h = await startUserService();
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
    await vhost?.drop();
  });

  const register = (email: string) =>
    h.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password: 'longenough1', name: 'Ev' },
    });
  const pending = async () =>
    (
      await h.pool.query(
        'SELECT count(*)::int AS n, max(attempts) AS a FROM outbox WHERE published_at IS NULL',
      )
    ).rows[0] as { n: number; a: number | null };

  it('registers while RabbitMQ is unreachable, and publishes the event once it is back', async () => {
    // Broker away: the relay cannot publish; the registration still succeeds and the event waits.
    const deadConn = createAmqp('amqp://guest:guest@127.0.0.1:1', { name: 'user-service-dead' });
    const dead = startOutbox({
      pool: h.pool,
      amqp: deadConn,
      logger,
      metrics: h.metrics,
      lifecycle,
      intervalMs: 100,
      publishTimeoutMs: 300,
    });
    const res = await register(`queued-${Date.now()}@example.com`);
    assert.equal(res.statusCode, 201);
    const { id } = res.json();
    assert.equal(
      (await h.app.inject({ url: '/readyz' })).statusCode,
      200,
      'RabbitMQ is not a readiness dependency',
    );
    await eventually(async () => ((await pending()).a ?? 0) >= 1, 5000);
    await dead.stop();
    await deadConn.close();
    assert.equal((await pending()).n, 1);
    assert.equal(received.length, 0);

    // Broker back: the pending event goes out.
    const amqp = createAmqp(vhost.url, { name: 'user-service-test' });
    const outbox = startOutbox({
      pool: h.pool,
      amqp,
      logger,
      metrics: h.metrics,
      lifecycle,
      intervalMs: 100,
    });
    try {
      const msg = await eventually(() => received.find((r) => r.body.data.userId === id), 10_000);
      assert.equal(msg.routingKey, 'user.registered');
      assert.equal(msg.body.type, 'user.registered');
      assert.equal(msg.body.source, 'user-service');
      assert.equal(msg.props.messageId, msg.body.id);
      assert.equal(msg.props.contentType, 'application/json');
      assert.equal(msg.props.deliveryMode, 2);
      await eventually(async () => (await pending()).n === 0);

      // With the relay running, a new registration goes out promptly, exactly once.
      const second = await register(`live-${Date.now()}@example.com`);
      const secondId = second.json().id;
      await eventually(() => received.find((r) => r.body.data.userId === secondId), 10_000);
      assert.equal(received.filter((r) => r.body.data.userId === secondId).length, 1);
      const metrics = await h.metrics.registry.getSingleMetricAsString('messages_published_total');
      assert.match(metrics, /routing_key="user.registered"/);
      assert.match(metrics, /outcome="confirmed"/);
    } finally {
      await outbox.stop();
      await amqp.close();
    }
  });
});
