import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, mock, test } from 'node:test';
import { createAmqp } from '@mdp/platform/amqp';
import { jwtRouteAuth } from '@mdp/platform/auth';
import { EVENTS_EXCHANGE } from '@mdp/platform/events';
import { Health } from '@mdp/platform/health';
import type { HttpApp } from '@mdp/platform/http';
import { createLogger } from '@mdp/platform/logger';
import { Metrics } from '@mdp/platform/metrics';
import { createRedis } from '@mdp/platform/redis';
import { signServiceToken } from '@mdp/platform/service-tokens';
import {
  eventually,
  TEST_REDIS_URL,
  type tempDatabase,
  tempRedisPrefix,
  tempVhost,
} from '@mdp/platform/testing';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { PostgresProductRepository } from '../src/adapters/postgres.js';
import { BestEffortCatalogEvents } from '../src/adapters/rabbitmq.js';
import { buildApp } from '../src/app.js';
import { internalAuth, migratedCatalog, serviceAuth, serviceKeys, tokenKit } from './helpers.js';

const info = { service: 'product-service', version: 't', commit: 't' };

async function counterValue(metrics: Metrics, name: string, labels: Record<string, string>) {
  const m = (await metrics.registry.getSingleMetric(name)?.get()) as
    | { values: { labels: Record<string, string>; value: number }[] }
    | undefined;
  const hit = m?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return hit?.value ?? 0;
}

describe('product-service HTTP API (PostgreSQL store, Redis cache, RabbitMQ events)', () => {
  let app: HttpApp;
  let metrics: Metrics;
  let db: Awaited<ReturnType<typeof tempDatabase>>;
  let repo: PostgresProductRepository;
  let redisPrefix: ReturnType<typeof tempRedisPrefix>;
  let redis: ReturnType<typeof createRedis>;
  let vhost: Awaited<ReturnType<typeof tempVhost>>;
  let amqp: ReturnType<typeof createAmqp>;
  let events: BestEffortCatalogEvents;
  const received: unknown[] = [];
  let admin: string;
  let customer: string;

  before(async () => {
    ({ db, repo } = await migratedCatalog('products_api', { max: 20 }));
    redisPrefix = tempRedisPrefix('products');
    redis = createRedis(TEST_REDIS_URL, { keyPrefix: redisPrefix.keyPrefix });
    await redis.connect();
    vhost = await tempVhost('products');
    amqp = createAmqp(vhost.url, { name: 'product-service-test' });
    const listener = amqp.createChannel({
      setup: async (ch: ConfirmChannel) => {
        await ch.assertExchange(EVENTS_EXCHANGE, 'topic', { durable: true });
        const q = await ch.assertQueue('', { exclusive: true });
        await ch.bindQueue(q.queue, EVENTS_EXCHANGE, 'product.stock_low');
        await ch.consume(
          q.queue,
          (msg: ConsumeMessage | null) => {
            if (msg) received.push(JSON.parse(msg.content.toString()));
          },
          { noAck: true },
        );
      },
    });
    await listener.waitForConnect();
    const logger = createLogger({ service: 'product-service', level: 'silent' });
    metrics = new Metrics(info, { defaultMetrics: false });
    events = new BestEffortCatalogEvents(amqp, { logger, metrics });
    const keys = await tokenKit();
    admin = `Bearer ${await keys.sign(randomUUID(), 'admin')}`;
    customer = `Bearer ${await keys.sign(randomUUID(), 'customer')}`;
    app = buildApp({
      info,
      logger,
      metrics,
      health: new Health(),
      catalog: repo,
      redis,
      amqp,
      events,
      auth: jwtRouteAuth(keys.publicPem),
      internalAuth,
      stockLowThreshold: 3,
    });
    await app.ready();
  });

  after(async () => {
    await app.close();
    await events.close();
    await amqp.close();
    redis.disconnect();
    await repo.close();
    await Promise.all([db.drop(), redisPrefix.drop(), vhost.drop()]);
  });

  const create = (body: unknown, auth = admin) =>
    app.inject({
      method: 'POST',
      url: '/products',
      headers: { authorization: auth },
      payload: body as object,
    });
  const newProduct = (over: Record<string, unknown> = {}) => ({
    sku: `SKU-${randomUUID().slice(0, 8)}`,
    name: 'Walnut desk',
    description: 'Solid walnut standing desk',
    category: 'furniture',
    price: { amount: 59900, currency: 'EUR' },
    stock: 10,
    ...over,
  });

  test('GET /openapi.json documents the catalog routes (the gateway merges it into /docs)', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.ok(doc.paths['/products']?.get);
    assert.ok(doc.paths['/products']?.post);
    assert.ok(doc.paths['/products/{id}']?.patch);
  });

  test('admin creates (201), anyone reads; customers and anonymous are refused with JSON errors', async () => {
    const res = await create(newProduct());
    assert.equal(res.statusCode, 201);
    const p = res.json();
    assert.deepEqual(p.price, { amount: 59900, currency: 'EUR' });
    const got = await app.inject({ method: 'GET', url: `/products/${p.id}` });
    assert.equal(got.statusCode, 200);
    assert.deepEqual(got.json(), p);

    const asCustomer = await create(newProduct(), customer);
    assert.equal(asCustomer.statusCode, 403);
    assert.equal(asCustomer.json().error.code, 'FORBIDDEN');
    const anonymous = await app.inject({ method: 'POST', url: '/products', payload: newProduct() });
    assert.equal(anonymous.statusCode, 401);
    assert.equal(anonymous.json().error.code, 'UNAUTHORIZED');
  });

  test('bad input is a 400 with JSON (float money, unknown field, bad currency, limit out of range)', async () => {
    for (const body of [
      newProduct({ price: { amount: 19.99, currency: 'EUR' } }),
      newProduct({ price: { amount: 100, currency: 'euro' } }),
      { ...newProduct(), extra: true },
      newProduct({ stock: -1 }),
    ]) {
      const res = await create(body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.equal(res.json().error.code, 'VALIDATION_FAILED');
    }
    const big = await app.inject({ method: 'GET', url: '/products?limit=1000' });
    assert.equal(big.statusCode, 400);
    const dup = newProduct();
    assert.equal((await create(dup)).statusCode, 201);
    const again = await create(dup);
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().error.code, 'DUPLICATE_SKU');
    const missing = await app.inject({ method: 'GET', url: `/products/${randomUUID()}` });
    assert.equal(missing.statusCode, 404);
  });

  test('list with q, category and cursor pages', async () => {
    const category = `c${randomUUID().slice(0, 6)}`;
    for (let i = 0; i < 5; i++)
      await create(newProduct({ category, name: i === 0 ? 'Oak bookshelf' : `Chair ${i}` }));
    const p1 = await app.inject({ method: 'GET', url: `/products?category=${category}&limit=2` });
    const b1 = p1.json();
    assert.equal(b1.items.length, 2);
    assert.ok(b1.nextCursor);
    const p2 = await app.inject({
      method: 'GET',
      url: `/products?category=${category}&limit=2&cursor=${b1.nextCursor}`,
    });
    assert.equal(p2.json().items.length, 2);
    // A cursor this API did not make is a 400 in the error shape, not an empty page.
    for (const garbage of ['garbage', 'Zm9vYmFy', encodeURIComponent('%%%'), `${b1.nextCursor}x`]) {
      const bad = await app.inject({ method: 'GET', url: `/products?limit=2&cursor=${garbage}` });
      assert.equal(bad.statusCode, 400, garbage);
      assert.equal(bad.json().error.code, 'INVALID_CURSOR');
    }
    const search = await app.inject({ method: 'GET', url: `/products?q=bookshelf&category=${category}` });
    assert.deepEqual(
      search.json().items.map((p: { name: string }) => p.name),
      ['Oak bookshelf'],
    );
  });

  test('read-through cache: second read is a hit; a write invalidates (no stale read)', async () => {
    const p = (await create(newProduct())).json();
    const hitsBefore = await counterValue(metrics, 'cache_requests_total', {
      cache: 'product',
      result: 'hit',
    });
    await app.inject({ method: 'GET', url: `/products/${p.id}` });
    await app.inject({ method: 'GET', url: `/products/${p.id}` });
    const hitsAfter = await counterValue(metrics, 'cache_requests_total', {
      cache: 'product',
      result: 'hit',
    });
    assert.equal(hitsAfter - hitsBefore, 1);
    const patched = await app.inject({
      method: 'PATCH',
      url: `/products/${p.id}`,
      headers: { authorization: admin },
      payload: { price: { amount: 100, currency: 'EUR' } },
    });
    assert.equal(patched.statusCode, 200);
    const read = await app.inject({ method: 'GET', url: `/products/${p.id}` });
    assert.deepEqual(read.json().price, { amount: 100, currency: 'EUR' });

    // Lists too: a reservation changes stock, the cached page must show it.
    const category = `c${randomUUID().slice(0, 6)}`;
    const q = (await create(newProduct({ category, stock: 9 }))).json();
    const url = `/products?category=${category}`;
    assert.equal((await app.inject({ method: 'GET', url })).json().items[0].stock, 9);
    assert.equal((await app.inject({ method: 'GET', url })).json().items[0].stock, 9);
    await app.inject({
      method: 'POST',
      url: '/internal/reservations',
      headers: await serviceAuth(),
      payload: { orderId: randomUUID(), items: [{ productId: q.id, quantity: 4 }] },
    });
    assert.equal((await app.inject({ method: 'GET', url })).json().items[0].stock, 5);
    assert.equal((await app.inject({ method: 'GET', url: `/products/${q.id}` })).json().stock, 5);
    const text = await (await app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(text, /cache_requests_total\{cache="product_list",result="hit"\} [1-9]/);
  });

  test('internal reserve/release over HTTP: idempotent, 409 when short, 422 unknown product', async () => {
    const p = (await create(newProduct({ stock: 4, price: { amount: 250, currency: 'EUR' } }))).json();
    const orderId = randomUUID();
    const reserve = async () =>
      app.inject({
        method: 'POST',
        url: '/internal/reservations',
        headers: await serviceAuth(),
        payload: { orderId, items: [{ productId: p.id, quantity: 3 }] },
      });
    const r1 = await reserve();
    assert.equal(r1.statusCode, 200);
    assert.deepEqual(r1.json().lines[0].unitPrice, { amount: 250, currency: 'EUR' });
    assert.equal((await reserve()).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: `/products/${p.id}` })).json().stock, 1);
    const short = await app.inject({
      method: 'POST',
      url: '/internal/reservations',
      headers: await serviceAuth(),
      payload: { orderId: randomUUID(), items: [{ productId: p.id, quantity: 2 }] },
    });
    assert.equal(short.statusCode, 409);
    assert.equal(short.json().error.code, 'INSUFFICIENT_STOCK');
    const unknown = await app.inject({
      method: 'POST',
      url: '/internal/reservations',
      headers: await serviceAuth(),
      payload: { orderId: randomUUID(), items: [{ productId: randomUUID(), quantity: 1 }] },
    });
    assert.equal(unknown.statusCode, 422);
    const rel = await app.inject({
      method: 'POST',
      url: `/internal/reservations/${orderId}/release`,
      headers: await serviceAuth(),
    });
    assert.equal(rel.statusCode, 200);
    assert.equal(
      (
        await app.inject({
          method: 'POST',
          url: `/internal/reservations/${orderId}/release`,
          headers: await serviceAuth(),
        })
      ).statusCode,
      200,
    );
    assert.equal((await app.inject({ method: 'GET', url: `/products/${p.id}` })).json().stock, 4);
  });

  test('internal calls need a service token of an allowed caller: reaching the pod is not enough', async () => {
    const p = (await create(newProduct({ stock: 5 }))).json();
    const reserve = (headers: Record<string, string>) =>
      app.inject({
        method: 'POST',
        url: '/internal/reservations',
        headers,
        payload: { orderId: randomUUID(), items: [{ productId: p.id, quantity: 1 }] },
      });
    const wrongAudience = await signServiceToken({
      service: 'order-service',
      audience: 'user-service',
      privateKey: serviceKeys.privateKey,
    });
    const refusals: [string, Record<string, string>, number][] = [
      ['no credential', {}, 401],
      ["an admin's access token", { authorization: admin }, 401],
      ["a customer's access token", { authorization: customer }, 401],
      ['a service token for another audience', { authorization: `Bearer ${wrongAudience.token}` }, 401],
      ['a service token of a caller not allowed', await serviceAuth('api-gateway'), 403],
    ];
    for (const [what, headers, status] of refusals) {
      const res = await reserve(headers);
      assert.equal(res.statusCode, status, `${what}: ${res.body}`);
      assert.ok(res.json().error.code, what);
      const release = await app.inject({
        method: 'POST',
        url: `/internal/reservations/${randomUUID()}/release`,
        headers,
      });
      assert.equal(release.statusCode, status, `release, ${what}`);
    }
    assert.equal((await app.inject({ method: 'GET', url: `/products/${p.id}` })).json().stock, 5);
    assert.equal((await reserve(await serviceAuth())).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: `/products/${p.id}` })).json().stock, 4);
  });

  test('N parallel HTTP orders for the last K items: exactly K succeed', async () => {
    const K = 3;
    const N = 15;
    const p = (await create(newProduct({ stock: K }))).json();
    const headers = await serviceAuth();
    const codes = await Promise.all(
      Array.from({ length: N }, () =>
        app
          .inject({
            method: 'POST',
            url: '/internal/reservations',
            headers,
            payload: { orderId: randomUUID(), items: [{ productId: p.id, quantity: 1 }] },
          })
          .then((r) => r.statusCode),
      ),
    );
    assert.equal(codes.filter((c) => c === 200).length, K);
    assert.equal(codes.filter((c) => c === 409).length, N - K);
    assert.equal((await app.inject({ method: 'GET', url: `/products/${p.id}` })).json().stock, 0);
  });

  test('product.stock_low is published once when stock crosses the threshold', async () => {
    const p = (await create(newProduct({ stock: 5 }))).json();
    const take = async (n: number) =>
      app.inject({
        method: 'POST',
        url: '/internal/reservations',
        headers: await serviceAuth(),
        payload: { orderId: randomUUID(), items: [{ productId: p.id, quantity: n }] },
      });
    await take(1); // 4: above the threshold of 3
    await take(2); // 2: crossed
    await take(1); // 1: already below, no second event
    // A marker: another product crossing afterwards. Its event is published after the ones above
    // (one channel, in order), so once it is here nothing more for p can still be on its way.
    const marker = (await create(newProduct({ stock: 3 }))).json();
    await app.inject({
      method: 'POST',
      url: '/internal/reservations',
      headers: await serviceAuth(),
      payload: { orderId: randomUUID(), items: [{ productId: marker.id, quantity: 1 }] },
    });
    const of = (id: string) =>
      received.filter((e) => (e as { data: { productId: string } }).data.productId === id) as {
        type: string;
        source: string;
        data: { stock: number; threshold: number };
      }[];
    const mine = () => of(p.id);
    await eventually(() => of(marker.id).length === 1, 5000);
    assert.equal(mine().length, 1);
    assert.equal(mine()[0]?.type, 'product.stock_low');
    assert.equal(mine()[0]?.source, 'product-service');
    assert.deepEqual(mine()[0]?.data.stock, 2);
  });
});

describe('product-service with Redis down', () => {
  test('reads go straight to the store: correct answers, counted as misses, no errors', async () => {
    const { db, repo } = await migratedCatalog('products_noredis');
    // Nothing listens on port 1: the client never becomes ready.
    const redis = createRedis('redis://127.0.0.1:1', { timeoutMs: 200 });
    redis.connect().catch(() => {});
    const metrics = new Metrics(info, { defaultMetrics: false });
    const logger = createLogger({ service: 'product-service', level: 'silent' });
    const keys = await tokenKit();
    const app = buildApp({
      info,
      logger,
      metrics,
      health: new Health(),
      catalog: repo,
      redis,
      events: { stockLow: async () => {} },
      auth: jwtRouteAuth(keys.publicPem),
      internalAuth,
    });
    try {
      const auth = `Bearer ${await keys.sign(randomUUID(), 'admin')}`;
      const created = await app.inject({
        method: 'POST',
        url: '/products',
        headers: { authorization: auth },
        payload: {
          sku: 'NR-1',
          name: 'Lamp',
          description: '',
          category: 'home',
          price: { amount: 1000, currency: 'EUR' },
          stock: 2,
        },
      });
      assert.equal(created.statusCode, 201);
      const id = created.json().id;
      // No read waits on Redis: none even sends it a command (each would wait for its timeout).
      const sent = mock.method(redis, 'sendCommand');
      for (let i = 0; i < 3; i++) {
        const res = await app.inject({ method: 'GET', url: `/products/${id}` });
        assert.equal(res.statusCode, 200);
        assert.equal(res.json().name, 'Lamp');
      }
      assert.equal(sent.mock.callCount(), 0, 'a Redis outage must not slow reads to its timeout');
      sent.mock.restore();
      const list = await app.inject({ method: 'GET', url: '/products' });
      assert.equal(list.json().items.length, 1);
      assert.equal(
        await counterValue(metrics, 'cache_requests_total', { cache: 'product', result: 'miss' }),
        3,
      );
      const ready = await app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 200, 'Redis is a degradable dependency, not a readiness one');
    } finally {
      await app.close();
      redis.disconnect();
      await repo.close();
      await db.drop();
    }
  });
});
