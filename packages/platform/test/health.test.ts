import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { amqpCheck, createAmqp } from '../src/amqp.js';
import { Health } from '../src/health.js';
import { createPgPool, pgCheck } from '../src/postgres.js';
import { createRedis, redisCheck } from '../src/redis.js';
import { testApp } from '../src/test-support.js';
import { eventually, TEST_AMQP_URL, TEST_PG_URL, TEST_REDIS_URL, tempDatabase } from '../src/testing.js';

describe('readiness against the real PostgreSQL, Redis and RabbitMQ', () => {
  const closers: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  test('ready (200) when every dependency answers', async () => {
    const db = await tempDatabase('health');
    closers.push(() => db.drop());
    const pool = createPgPool(db.url, { applicationName: 'health-test' });
    closers.push(() => pool.end());
    const redis = createRedis(TEST_REDIS_URL);
    closers.push(async () => redis.disconnect());
    await redis.connect();
    const amqp = createAmqp(TEST_AMQP_URL, { name: 'health-test' });
    closers.push(() => amqp.close());
    await eventually(() => amqp.isConnected());

    const { app, health } = testApp();
    health.add('postgres', pgCheck(pool)).add('redis', redisCheck(redis)).add('rabbitmq', amqpCheck(amqp));
    const res = await app.inject({ url: '/readyz' });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.status, 'ready');
    assert.deepEqual(Object.keys(body.checks).sort(), ['postgres', 'rabbitmq', 'redis']);
  });

  test('a dependency that is down makes /readyz 503 naming it, the others still ok', async () => {
    const pool = createPgPool(TEST_PG_URL, { applicationName: 'health-test' });
    closers.push(() => pool.end());
    // Nothing listens on these ports: Redis and RabbitMQ "down".
    const redis = createRedis('redis://127.0.0.1:1', { timeoutMs: 300 });
    closers.push(async () => redis.disconnect());
    const amqp = createAmqp('amqp://guest:guest@127.0.0.1:1', { name: 'health-test-down' });
    closers.push(() => amqp.close());

    const { app, health } = testApp();
    health.add('postgres', pgCheck(pool)).add('redis', redisCheck(redis)).add('rabbitmq', amqpCheck(amqp));
    const res = await app.inject({ url: '/readyz' });
    assert.equal(res.statusCode, 503);
    const body = res.json();
    assert.equal(body.status, 'not_ready');
    assert.equal(body.checks.postgres.status, 'ok');
    assert.equal(body.checks.redis.status, 'fail');
    assert.equal(body.checks.rabbitmq.status, 'fail');
    assert.equal(body.error.code, 'NOT_READY');
    assert.match(body.error.message, /redis/);
    assert.match(body.error.message, /rabbitmq/);
    assert.ok(!/postgres/.test(body.error.message));
  });

  test('a missing database is reported by name', async () => {
    const pool = createPgPool(`${TEST_PG_URL.replace(/\/[^/]*$/, '')}/no_such_db_for_health`, {
      applicationName: 'health-test',
    });
    closers.push(() => pool.end());
    const { app, health } = testApp();
    health.add('postgres', pgCheck(pool));
    const body = (await app.inject({ url: '/readyz' })).json();
    assert.match(body.error.message, /postgres \(database "no_such_db_for_health" does not exist\)/);
  });
});

describe('health registry', () => {
  test('a check that hangs fails after its own timeout, and checks run concurrently', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const h = new Health();
    h.add('slow', () => new Promise(() => {}), 100);
    h.add('slow2', () => new Promise(() => {}), 100);
    h.add('fine', async () => {});
    let settled = false;
    const readiness = h.readiness().finally(() => {
      settled = true;
    });
    t.mock.timers.tick(99);
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, false, 'still waiting before the timeout');
    // One tick of 100 ms times out both hanging checks: they run side by side, not one after the other.
    t.mock.timers.tick(1);
    for (let i = 0; i < 5 && !settled; i++) await new Promise((r) => setImmediate(r));
    assert.equal(settled, true, 'both timed out at 100 ms');
    const r = await readiness;
    assert.equal(r.ready, false);
    assert.deepEqual(r.failing.sort(), ['slow', 'slow2']);
    assert.match(r.checks.slow?.error ?? '', /timed out after 100 ms/);
  });

  test('the timeout aborts the check signal', async () => {
    const h = new Health();
    let aborted = false;
    h.add(
      'x',
      (signal) =>
        new Promise((_, reject) =>
          signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('aborted'));
          }),
        ),
      50,
    );
    await h.readiness();
    assert.ok(aborted);
  });

  test('shutting down makes readiness false even when checks pass', async () => {
    const h = new Health().add('ok', async () => {});
    assert.equal((await h.readiness()).ready, true);
    h.startShutdown();
    const r = await h.readiness();
    assert.equal(r.ready, false);
    assert.equal(r.shuttingDown, true);
  });

  test('registering a name twice is an error', () => {
    const h = new Health().add('a', async () => {});
    assert.throws(() => h.add('a', async () => {}), /registered twice/);
  });
});

describe('a datastore outage during a request', () => {
  test('is a 503 with Retry-After in the contract shape, not a 500', async () => {
    const redis = createRedis('redis://127.0.0.1:1', { timeoutMs: 200 });
    const pool = createPgPool('postgres://postgres@127.0.0.1:1/none', {
      applicationName: 'outage-test',
      timeoutMs: 300,
    });
    try {
      const { app } = testApp();
      app.get('/cached', { schema: {} }, async () => ({ v: await redis.get('k') }));
      app.get('/stored', { schema: {} }, async () => (await pool.query('SELECT 1 AS v')).rows[0]);
      for (const url of ['/cached', '/stored']) {
        const res = await app.inject({ url });
        assert.equal(res.statusCode, 503, `${url}: ${res.body}`);
        assert.equal(res.headers['retry-after'], '1');
        assert.equal(res.json().error.code, 'DEPENDENCY_UNAVAILABLE');
      }
    } finally {
      redis.disconnect();
      await pool.end();
    }
  });
});
