import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { context, propagation, ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import amqplib from 'amqplib';
import { createAmqp } from '../src/amqp.js';
import { EVENTS_EXCHANGE, EventPublisher } from '../src/events.js';
import { createLogger } from '../src/logger.js';
import { Metrics } from '../src/metrics.js';
import { enqueueEvent, OUTBOX_SQL, OutboxRelay, withOutboxEvent } from '../src/outbox.js';
import { createPgPool, withTransaction } from '../src/postgres.js';
import {
  eventually,
  type TempDatabase,
  type TempVhost,
  tempDatabase,
  tempVhost,
  testEvent,
} from '../src/testing.js';

const logger = createLogger({ service: 'outbox-test', level: 'silent' });
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

interface Received {
  id: string;
  type: string;
  props: amqplib.MessageProperties;
}

describe('events and the transactional outbox (real PostgreSQL and RabbitMQ)', { timeout: 120_000 }, () => {
  let db: TempDatabase;
  let vhost: TempVhost;
  let consumerConn: amqplib.ChannelModel;
  const received: Received[] = [];

  before(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    db = await tempDatabase('outbox');
    vhost = await tempVhost('outbox');
    const pool = createPgPool(db.url, { applicationName: 'outbox-test' });
    await pool.query(OUTBOX_SQL);
    await pool.end();
    consumerConn = await amqplib.connect(vhost.url);
    const ch = await consumerConn.createChannel();
    await ch.assertExchange(EVENTS_EXCHANGE, 'topic', { durable: true });
    const q = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(q.queue, EVENTS_EXCHANGE, '#');
    await ch.consume(q.queue, (msg) => {
      if (!msg) return;
      const body = JSON.parse(msg.content.toString());
      received.push({ id: body.id, type: body.type, props: msg.properties });
      ch.ack(msg);
    });
  });

  after(async () => {
    await consumerConn?.close();
    await vhost?.drop();
    await db?.drop();
    context.disable();
    propagation.disable();
  });

  /**
   * Stores a marker event and waits until it arrives: the relay publishes rows in order on one
   * channel, so whatever it sent before the marker has arrived by then (no sleep standing in for
   * "nothing else will come").
   */
  async function afterMarker(pool: ReturnType<typeof createPgPool>): Promise<void> {
    const marker = testEvent('test.marker', {});
    await withTransaction(pool, (c) => enqueueEvent(c, marker));
    await eventually(() => received.some((r) => r.id === marker.id), 10_000);
  }

  test('publish sets the contract message properties and carries the trace context', async () => {
    const metrics = new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false });
    const conn = createAmqp(vhost.url, { name: 'outbox-test' });
    const publisher = new EventPublisher(conn, { logger, metrics });
    const event = testEvent('user.registered', { userId: 'u1', email: 'a@b.c' });
    const spanCtx = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: TRACE_ID,
      spanId: '00f067aa0ba902b7',
      traceFlags: TraceFlags.SAMPLED,
    });
    await context.with(spanCtx, () => publisher.publish(event));
    const got = await eventually(() => received.find((r) => r.id === event.id));
    assert.equal(got.props.messageId, event.id);
    assert.equal(got.props.contentType, 'application/json');
    assert.equal(got.props.deliveryMode, 2, 'persistent');
    assert.equal(got.type, 'user.registered');
    assert.match(String(got.props.headers?.traceparent), new RegExp(`^00-${TRACE_ID}-`));
    const text = await metrics.registry.getSingleMetricAsString('messages_published_total');
    assert.match(text, /routing_key="user.registered",outcome="confirmed"} 1/);
    await publisher.close();
    await conn.close();
  });

  test('only committed events are relayed, each once, with the trace of the request that stored it', async (t) => {
    const metrics = new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false });
    const pool = createPgPool(db.url, { applicationName: 'outbox-test' });
    const conn = createAmqp(vhost.url, { name: 'outbox-test' });
    const publisher = new EventPublisher(conn, { logger, metrics });
    const relay = new OutboxRelay({ pool, publisher, logger, metrics, intervalMs: 100 });
    // Stopped even when an assertion fails, so that it neither relays the next test's rows nor
    // keeps the process alive.
    t.after(async () => {
      await relay.stop();
      await publisher.close();
      await conn.close();
      await pool.end();
    });
    const committed = testEvent('order.created', { orderId: 'o1' });
    const rolledBack = testEvent('order.created', { orderId: 'o2' });

    const spanCtx = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: TRACE_ID,
      spanId: 'a2fb4a1d1a96d312',
      traceFlags: TraceFlags.SAMPLED,
    });
    await context.with(spanCtx, async () => {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        await enqueueEvent(c, committed);
        await c.query('COMMIT');
        await c.query('BEGIN');
        await enqueueEvent(c, rolledBack);
        await c.query('ROLLBACK');
      } finally {
        c.release();
      }
    });

    relay.start();
    const got = await eventually(() => received.find((r) => r.id === committed.id));
    assert.match(String(got.props.headers?.traceparent), new RegExp(`^00-${TRACE_ID}-`));
    await eventually(async () => (await relay.pending()) === 0);
    await afterMarker(pool);
    assert.equal(received.filter((r) => r.id === committed.id).length, 1, 'delivered exactly once');
    assert.equal(received.filter((r) => r.id === rolledBack.id).length, 0, 'rolled-back event never sent');
    const { rows } = await pool.query('SELECT published_at FROM outbox WHERE id = $1', [committed.id]);
    assert.ok(rows[0]?.published_at, 'marked published');
    // The gauge is refreshed at most once a second while events flow, and on the next idle cycle.
    await eventually(async () =>
      /outbox_pending_events 0/.test(await metrics.registry.getSingleMetricAsString('outbox_pending_events')),
    );
  });

  test('withOutboxEvent: the change and its event in one statement, both or neither, the relay woken', async (t) => {
    const pool = createPgPool(db.url, { applicationName: 'outbox-test' });
    const listener = await pool.connect();
    t.after(async () => {
      listener.release();
      await pool.end();
    });
    await pool.query('CREATE TABLE IF NOT EXISTS one_statement (id text PRIMARY KEY)');
    const woken: string[] = [];
    listener.on('notification', (n) => woken.push(String(n.payload)));
    await listener.query('LISTEN mdp_outbox');
    const stored = testEvent('order.created', { orderId: 'one-1' });
    const change = (id: string) => ({ sql: 'INSERT INTO one_statement (id) VALUES ($1)', params: [id] });
    const first = await pool.query(withOutboxEvent(change('one-1'), stored));
    assert.equal(first.rowCount, 1);
    await eventually(() => woken.includes('order.created'));
    // The same key again: the change fails, so its event is not stored either.
    const refused = testEvent('order.created', { orderId: 'one-1-again' });
    await assert.rejects(pool.query(withOutboxEvent(change('one-1'), refused)), /duplicate key/);
    const { rows } = await pool.query<{ id: string }>('SELECT id FROM outbox WHERE id = ANY($1)', [
      [stored.id, refused.id],
    ]);
    assert.deepEqual(
      rows.map((r) => r.id),
      [stored.id],
    );
    const { rows: state } = await pool.query('SELECT id FROM one_statement');
    assert.deepEqual(state, [{ id: 'one-1' }]);
    // Not relayed by this test: out of the next tests' pending counts.
    await pool.query('DELETE FROM outbox WHERE id = $1', [stored.id]);
  });

  test('a broker outage delays events but loses none and duplicates none', async (t) => {
    const metrics = new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false });
    const pool = createPgPool(db.url, { applicationName: 'outbox-test' });
    // A broker that is not there: nothing listens on port 1.
    const deadConn = createAmqp('amqp://guest:guest@127.0.0.1:1', { name: 'outbox-dead' });
    const deadPublisher = new EventPublisher(deadConn, { logger, metrics, timeoutMs: 300 });
    const deadRelay = new OutboxRelay({ pool, publisher: deadPublisher, logger, metrics, intervalMs: 50 });
    const events = Array.from({ length: 20 }, (_, i) => testEvent('order.cancelled', { orderId: `x${i}` }));
    for (const e of events) await withTransaction(pool, (c) => enqueueEvent(c, e));
    await assert.rejects(deadRelay.drainOnce(), /not published/);
    assert.equal(await deadRelay.pending(), 20, 'all still pending during the outage');
    const { rows } = await pool.query<{ attempts: number }>(
      'SELECT min(attempts) AS attempts FROM outbox WHERE published_at IS NULL',
    );
    assert.ok((rows[0]?.attempts ?? 0) >= 1, 'failed attempts recorded');
    await deadPublisher.close();
    await deadConn.close();
    assert.equal(
      received.filter((r) => events.some((e) => e.id === r.id)).length,
      0,
      'nothing arrived during the outage',
    );

    // The broker is back (a relay with a working connection).
    const conn = createAmqp(vhost.url, { name: 'outbox-test' });
    const publisher = new EventPublisher(conn, { logger, metrics });
    const relay = new OutboxRelay({ pool, publisher, logger, metrics, intervalMs: 50 });
    t.after(async () => {
      await relay.stop();
      await publisher.close();
      await conn.close();
      await pool.end();
    });
    relay.start();
    await eventually(async () => (await relay.pending()) === 0, 10_000);
    await eventually(() => events.every((e) => received.some((r) => r.id === e.id)));
    await afterMarker(pool);
    for (const e of events) assert.equal(received.filter((r) => r.id === e.id).length, 1, `${e.id} once`);
  });
});
