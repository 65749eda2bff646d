import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createAmqp } from '@mdp/platform/amqp';
import { generateSigningKeys, jwtRouteAuth } from '@mdp/platform/auth';
import { EVENTS_EXCHANGE, EventPublisher } from '@mdp/platform/events';
import { initFlags } from '@mdp/platform/flags';
import { Health } from '@mdp/platform/health';
import type { HttpApp } from '@mdp/platform/http';
import { createLogger } from '@mdp/platform/logger';
import { Metrics } from '@mdp/platform/metrics';
import { enqueueEvent, OutboxRelay } from '@mdp/platform/outbox';
import { migrate, withTransaction } from '@mdp/platform/postgres';
import { signServiceToken } from '@mdp/platform/service-tokens';
import { memoryLogger } from '@mdp/platform/test-support';
import {
  eventually,
  TEST_AMQP_URL,
  TEST_REDIS_URL,
  tempDatabase,
  tempRedisPrefix,
  tempVhost,
  testEvent,
} from '@mdp/platform/testing';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import pg from 'pg';
import { connectPostgres, PostgresOrderStore, warmOrderStore } from '../src/adapters/postgres.js';
import { ProductServiceClient } from '../src/adapters/product-service.js';
import { buildApp } from '../src/app.js';
import { defaults, definition } from '../src/config.js';
import { OrderLimitError, type OrderLimits } from '../src/domain/limits.js';
import type { Inventory } from '../src/domain/ports.js';
import { type RunningService, startService, TcpRelay } from './support.js';
import { serviceKeys, signer, tokenKit } from './tokens.js';

const info = { service: 'order-service', version: 't', commit: 't' };
const MIGRATIONS_DIR = definition.migrations?.dir as string;
const logger = createLogger({ service: 'order-service', level: 'silent' });

interface Received {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

/** An order-service app on `pool` and `inventory`, without flags or a broker (`limits`: the defaults when absent). */
async function bareApp(
  pool: pg.Pool,
  inventory: Inventory,
  keys: Awaited<ReturnType<typeof tokenKit>>,
  limits?: OrderLimits,
) {
  const metrics = new Metrics(info, { defaultMetrics: false });
  const flags = await initFlags(
    { FLAGS_PROVIDER: 'none' },
    { logger, metrics, domain: `bare-${randomUUID()}` },
  );
  return buildApp({
    info,
    logger,
    metrics,
    health: new Health(),
    flags,
    db: pool,
    inventory,
    auth: jwtRouteAuth(keys.publicPem),
    ...(limits ? { limits } : {}),
  });
}

describe('order-service against a real product-service process, PostgreSQL and RabbitMQ', () => {
  let product: RunningService;
  let catalogDb: Awaited<ReturnType<typeof tempDatabase>>;
  let ordersDb: Awaited<ReturnType<typeof tempDatabase>>;
  let redisPrefix: ReturnType<typeof tempRedisPrefix>;
  let vhost: Awaited<ReturnType<typeof tempVhost>>;
  let brokerRelay: TcpRelay;
  let amqp: ReturnType<typeof createAmqp>;
  let observer: ReturnType<typeof createAmqp>;
  let publisher: EventPublisher;
  let outbox: OutboxRelay;
  let pool: pg.Pool;
  let app: HttpApp;
  let inventory: ProductServiceClient;
  let keys: Awaited<ReturnType<typeof tokenKit>>;
  let flagDir: string;
  const events: Received[] = [];
  const appLog = memoryLogger('order-service', 'info');
  let adminAuth: string;
  const users = { alice: randomUUID(), bob: randomUUID() };
  const auth: Record<string, string> = {};

  before(async () => {
    keys = await tokenKit();
    [catalogDb, ordersDb, vhost] = await Promise.all([
      tempDatabase('orders_catalog'),
      tempDatabase('orders'),
      tempVhost('orders'),
    ]);
    redisPrefix = tempRedisPrefix('orders');
    product = await startService('product-service', {
      PRODUCT_DB_URL: catalogDb.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: redisPrefix.keyPrefix,
      AMQP_URL: vhost.url,
      JWT_PUBLIC_KEY: keys.publicPem,
      JWT_SERVICE_PUBLIC_KEY: serviceKeys.publicKey,
    });
    await migrate(ordersDb.url, MIGRATIONS_DIR);
    pool = connectPostgres(ordersDb.url, defaults.PG_POOL_MAX);
    // The relay reaches RabbitMQ through a TCP relay the outage test cuts.
    const amqpTarget = new URL(TEST_AMQP_URL);
    brokerRelay = new TcpRelay(amqpTarget.hostname, Number(amqpTarget.port || 5672));
    const relayPort = await brokerRelay.start();
    const viaRelay = new URL(vhost.url);
    viaRelay.port = String(relayPort);
    amqp = createAmqp(viaRelay.toString(), { name: 'order-service-test' });
    observer = createAmqp(vhost.url, { name: 'order-observer' });
    const ch = observer.createChannel({
      setup: async (c: ConfirmChannel) => {
        await c.assertExchange(EVENTS_EXCHANGE, 'topic', { durable: true });
        const q = await c.assertQueue('order-observer', { durable: false });
        await c.bindQueue(q.queue, EVENTS_EXCHANGE, 'order.*');
        await c.consume(
          q.queue,
          (msg: ConsumeMessage | null) => {
            if (msg) events.push(JSON.parse(msg.content.toString()));
          },
          { noAck: true },
        );
      },
    });
    await ch.waitForConnect();
    const metrics = new Metrics(info, { defaultMetrics: false });
    publisher = new EventPublisher(amqp, { logger, metrics, timeoutMs: 2000 });
    outbox = new OutboxRelay({ pool, publisher, logger, metrics, intervalMs: 200 });
    flagDir = await mkdtemp(path.join(tmpdir(), 'order-flags-'));
    await writeFlags({});
    const flags = await initFlags(
      { FLAGS_PROVIDER: 'file', FLAGS_FILE: path.join(flagDir, 'flags.json'), FLAGS_POLL_MS: 50 },
      { logger, metrics, domain: `orders-test-${randomUUID()}` },
    );
    inventory = new ProductServiceClient({
      baseUrl: product.url,
      logger,
      timeoutMs: defaults.PRODUCT_SERVICE_TIMEOUT_MS,
      retries: defaults.PRODUCT_SERVICE_RETRIES,
      serviceToken: () => signer.token(),
    });
    ({ app } = buildApp({
      info,
      logger: appLog.logger,
      metrics,
      health: new Health(),
      flags,
      db: pool,
      amqp,
      inventory,
      auth: jwtRouteAuth(keys.publicPem),
    }));
    await app.ready();
    outbox.start();
    adminAuth = `Bearer ${await keys.sign(randomUUID(), 'admin')}`;
    auth.alice = `Bearer ${await keys.sign(users.alice)}`;
    auth.bob = `Bearer ${await keys.sign(users.bob)}`;
  });

  after(async () => {
    await outbox?.stop();
    await app?.close();
    inventory?.shutdown();
    await publisher?.close().catch(() => {});
    await amqp?.close();
    await observer?.close();
    await brokerRelay?.stop();
    await pool?.end();
    await product?.stop();
    await rm(flagDir, { recursive: true, force: true });
    await Promise.all([catalogDb?.drop(), ordersDb?.drop(), redisPrefix?.drop(), vhost?.drop()]);
  });

  async function writeFlags(defaults: { rate?: string; latency?: string }) {
    const file = {
      flags: {
        'fault.order-error-rate': {
          state: 'ENABLED',
          variants: { off: 0, all: 1 },
          defaultVariant: defaults.rate ?? 'off',
        },
        'fault.order-latency-ms': {
          state: 'ENABLED',
          variants: { off: 0, slow: 300 },
          defaultVariant: defaults.latency ?? 'off',
        },
      },
    };
    await writeFile(path.join(flagDir, 'flags.json'), JSON.stringify(file));
  }

  async function newProduct(stock: number, amount = 1999) {
    const res = await fetch(`${product.url}/products`, {
      method: 'POST',
      headers: { authorization: adminAuth, 'content-type': 'application/json' },
      body: JSON.stringify({
        sku: `O-${randomUUID().slice(0, 8)}`,
        name: 'Coffee beans',
        description: 'Medium roast',
        category: 'coffee',
        price: { amount, currency: 'EUR' },
        stock,
      }),
    });
    assert.equal(res.status, 201);
    return (await res.json()) as { id: string };
  }
  const stockOf = async (id: string) =>
    ((await (await fetch(`${product.url}/products/${id}`)).json()) as { stock: number }).stock;
  const place = (who: string, items: unknown, headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url: '/orders',
      headers: { authorization: who, ...headers },
      payload: { items } as object,
    });
  const orderCount = async () => Number((await pool.query('SELECT count(*) AS n FROM orders')).rows[0].n);

  test("the real product-service takes /internal only with order-service's service token", async () => {
    const p = await newProduct(5);
    const body = JSON.stringify({ orderId: randomUUID(), items: [{ productId: p.id, quantity: 1 }] });
    const call = (authorization?: string) =>
      fetch(`${product.url}/internal/reservations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body,
        signal: AbortSignal.timeout(5000),
      });
    // What anything in the cluster that reaches the pod could send: nothing, or a user's token.
    assert.equal((await call()).status, 401);
    assert.equal((await call(adminAuth)).status, 401);
    // A caller signing with another key claims to be order-service in vain.
    const forged = await signServiceToken({
      service: 'order-service',
      audience: 'product-service',
      privateKey: (await generateSigningKeys()).privateKey,
    });
    assert.equal((await call(`Bearer ${forged.token}`)).status, 401);
    assert.equal(await stockOf(p.id), 5);
    // order-service's own client, through an order.
    const res = await place(auth.alice as string, [{ productId: p.id, quantity: 1 }]);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(await stockOf(p.id), 4);
  });

  test('GET /openapi.json documents the order routes', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.ok(doc.paths['/orders']?.post);
    assert.ok(doc.paths['/orders/{id}/cancel']?.post);
  });

  test('an order is priced by the catalog, reserves stock and publishes order.created', async () => {
    const p = await newProduct(10, 1999);
    const res = await place(auth.alice as string, [{ productId: p.id, quantity: 3 }]);
    assert.equal(res.statusCode, 201, res.body);
    const order = res.json();
    assert.equal(order.status, 'confirmed');
    assert.deepEqual(order.total, { amount: 5997, currency: 'EUR' });
    assert.deepEqual(order.items[0].unitPrice, { amount: 1999, currency: 'EUR' });
    assert.equal(await stockOf(p.id), 7);
    const ev = await eventually(() =>
      events.find((e) => e.type === 'order.created' && e.data.orderId === order.id),
    );
    assert.equal(ev.data.userId, users.alice);
    assert.deepEqual(ev.data.total, { amount: 5997, currency: 'EUR' });
  });

  test('an order tells product-service who placed it: the catalog.ranking conversion of an exposed user', async () => {
    const conversions = async () => {
      const text = await (await fetch(`${product.url}/metrics`)).text();
      const line = text
        .split('\n')
        .find(
          (l) => l.startsWith('experiment_conversions_total{') && l.includes('experiment="catalog.ranking"'),
        );
      return line ? Number(line.split(' ').at(-1)) : 0;
    };
    const shopper = randomUUID();
    const shopperAuth = `Bearer ${await keys.sign(shopper)}`;
    const p = await newProduct(5);
    // Exposed: a signed-in catalog page (product-service runs on code defaults: variant control).
    const page = await fetch(`${product.url}/products?category=coffee`, {
      headers: { authorization: shopperAuth },
    });
    assert.equal(page.status, 200);
    const before = await conversions();
    const res = await place(shopperAuth, [{ productId: p.id, quantity: 1 }]);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(await conversions(), before + 1);
  });

  test('the client cannot send prices; bad input is a 400; unknown product 422; short stock 409', async () => {
    const p = await newProduct(1);
    const withPrice = await place(auth.alice as string, [{ productId: p.id, quantity: 1, price: 1 }]);
    assert.equal(withPrice.statusCode, 400);
    assert.equal((await place(auth.alice as string, [])).statusCode, 400);
    assert.equal((await place(auth.alice as string, [{ productId: p.id, quantity: 0 }])).statusCode, 400);
    const unknown = await place(auth.alice as string, [{ productId: randomUUID(), quantity: 1 }]);
    assert.equal(unknown.statusCode, 422);
    const short = await place(auth.alice as string, [{ productId: p.id, quantity: 2 }]);
    assert.equal(short.statusCode, 409);
    assert.equal(short.json().error.code, 'INSUFFICIENT_STOCK');
    assert.equal(await stockOf(p.id), 1);
    const anon = await app.inject({ method: 'POST', url: '/orders', payload: { items: [] } });
    assert.equal(anon.statusCode, 401);
  });

  test('own orders only: list and get; another user gets 404', async () => {
    const p = await newProduct(5);
    const o = (await place(auth.bob as string, [{ productId: p.id, quantity: 1 }])).json();
    const mine = await app.inject({ method: 'GET', url: '/orders', headers: { authorization: auth.bob } });
    assert.ok(mine.json().items.some((x: { id: string }) => x.id === o.id));
    // Pages of one: newest first, each order exactly once.
    await place(auth.bob as string, [{ productId: p.id, quantity: 1 }]);
    const all = (
      await app.inject({ method: 'GET', url: '/orders?limit=100', headers: { authorization: auth.bob } })
    )
      .json()
      .items.map((x: { id: string }) => x.id);
    assert.ok(all.length >= 2);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await app.inject({
        method: 'GET',
        url: `/orders?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
        headers: { authorization: auth.bob },
      });
      const body = page.json() as { items: { id: string }[]; nextCursor: string | null };
      assert.ok(body.items.length <= 1);
      seen.push(...body.items.map((x) => x.id));
      cursor = body.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, all, 'the pages together are the whole list, in order, once each');
    // A cursor this API did not make is a 400 in the error shape, not an empty page.
    for (const garbage of ['garbage', Buffer.from('2026-01-01|nope').toString('base64url')]) {
      const bad = await app.inject({
        method: 'GET',
        url: `/orders?cursor=${garbage}`,
        headers: { authorization: auth.bob },
      });
      assert.equal(bad.statusCode, 400, garbage);
      assert.equal(bad.json().error.code, 'INVALID_CURSOR');
    }
    const theirs = await app.inject({
      method: 'GET',
      url: '/orders',
      headers: { authorization: auth.alice },
    });
    assert.ok(!theirs.json().items.some((x: { id: string }) => x.id === o.id));
    assert.equal(
      (await app.inject({ method: 'GET', url: `/orders/${o.id}`, headers: { authorization: auth.bob } }))
        .statusCode,
      200,
    );
    const other = await app.inject({
      method: 'GET',
      url: `/orders/${o.id}`,
      headers: { authorization: auth.alice },
    });
    assert.equal(other.statusCode, 404);
  });

  test('Idempotency-Key: a replay (even concurrent) returns the first order and creates nothing new', async () => {
    const p = await newProduct(10);
    const key = randomUUID();
    const before = await orderCount();
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        place(auth.alice as string, [{ productId: p.id, quantity: 2 }], { 'idempotency-key': key }),
      ),
    );
    const ids = new Set(results.map((r) => r.json().id));
    assert.deepEqual(
      results.map((r) => r.statusCode),
      [201, 201, 201, 201, 201],
    );
    assert.equal(ids.size, 1);
    assert.equal(await orderCount(), before + 1);
    assert.equal(await stockOf(p.id), 8, 'stock taken once; losers of the race gave theirs back');
    const again = await place(auth.alice as string, [{ productId: p.id, quantity: 2 }], {
      'idempotency-key': key,
    });
    assert.equal(again.json().id, [...ids][0]);
    const reused = await place(auth.alice as string, [{ productId: p.id, quantity: 1 }], {
      'idempotency-key': key,
    });
    assert.equal(reused.statusCode, 422);
    // The same key from another user is another order.
    const bob = await place(auth.bob as string, [{ productId: p.id, quantity: 1 }], {
      'idempotency-key': key,
    });
    assert.notEqual(bob.json().id, [...ids][0]);
  });

  test('cancel: owner (or admin) cancels once, stock comes back, order.cancelled is published', async () => {
    const p = await newProduct(4);
    const o = (await place(auth.alice as string, [{ productId: p.id, quantity: 3 }])).json();
    assert.equal(await stockOf(p.id), 1);
    const byBob = await app.inject({
      method: 'POST',
      url: `/orders/${o.id}/cancel`,
      headers: { authorization: auth.bob },
    });
    assert.equal(byBob.statusCode, 404);
    const res = await app.inject({
      method: 'POST',
      url: `/orders/${o.id}/cancel`,
      headers: { authorization: auth.alice },
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().status, 'cancelled');
    assert.equal(await stockOf(p.id), 4);
    const twice = await app.inject({
      method: 'POST',
      url: `/orders/${o.id}/cancel`,
      headers: { authorization: auth.alice },
    });
    assert.equal(twice.statusCode, 409);
    assert.equal(await stockOf(p.id), 4);
    await eventually(() => events.find((e) => e.type === 'order.cancelled' && e.data.orderId === o.id));
    const o2 = (await place(auth.bob as string, [{ productId: p.id, quantity: 1 }])).json();
    const byAdmin = await app.inject({
      method: 'POST',
      url: `/orders/${o2.id}/cancel`,
      headers: { authorization: adminAuth },
    });
    assert.equal(byAdmin.statusCode, 200);
  });

  test('order limits (issue 15, finding 8): the (N+1)th open order is a 409, 20 at once never pass the cap, a cancel frees a slot', async () => {
    const { app: limited } = await bareApp(pool, inventory, keys, {
      maxOpenOrders: 3,
      maxUnitsPerProduct: 4,
      windowHours: 24,
    });
    await limited.ready();
    try {
      const shopper = async () => `Bearer ${await keys.sign(randomUUID())}`;
      const order = (who: string, items: unknown) =>
        limited.inject({
          method: 'POST',
          url: '/orders',
          headers: { authorization: who },
          payload: { items },
        });
      const cancel = (who: string, id: string) =>
        limited.inject({ method: 'POST', url: `/orders/${id}/cancel`, headers: { authorization: who } });
      const p = await newProduct(100);
      const one = [{ productId: p.id, quantity: 1 }];

      // (a) Three open orders, then the fourth is refused in the error shape, holding no stock.
      const carol = await shopper();
      const placed: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await order(carol, one);
        assert.equal(r.statusCode, 201, r.body);
        placed.push(r.json().id);
      }
      const fourth = await order(carol, one);
      assert.equal(fourth.statusCode, 409, fourth.body);
      const body = fourth.json();
      assert.equal(body.error.code, 'ORDER_LIMIT_REACHED');
      assert.equal(typeof body.error.message, 'string');
      assert.ok(body.error.requestId);
      assert.deepEqual(body.error.details, { limit: 'open_orders', max: 3, held: 3 });
      assert.equal(await stockOf(p.id), 97);

      // Units of one product, lines of one order summed: 4 at most.
      const dave = await shopper();
      assert.equal((await order(dave, [{ productId: p.id, quantity: 3 }])).statusCode, 201);
      const more = await order(dave, [
        { productId: p.id, quantity: 1 },
        { productId: p.id, quantity: 1 },
      ]);
      assert.equal(more.statusCode, 409, more.body);
      assert.deepEqual(more.json().error.details, {
        limit: 'units_per_product',
        max: 4,
        held: 3,
        productId: p.id,
      });
      assert.equal((await order(dave, one)).statusCode, 201);
      assert.equal(await stockOf(p.id), 93);

      // (b) 20 placements of one customer at once: exactly the cap is placed, the rest refused,
      // and the refused ones hold no stock (those that reserved before the atomic check gave it back).
      const erin = await shopper();
      const q = await newProduct(100);
      const burst = await Promise.all(
        Array.from({ length: 20 }, () => order(erin, [{ productId: q.id, quantity: 1 }])),
      );
      const statuses = burst.map((r) => r.statusCode).sort();
      assert.deepEqual(statuses, [...Array(3).fill(201), ...Array(17).fill(409)], JSON.stringify(statuses));
      assert.ok(
        burst.filter((r) => r.statusCode === 409).every((r) => r.json().error.code === 'ORDER_LIMIT_REACHED'),
      );
      const open = await pool.query(
        "SELECT count(*)::int AS n FROM orders WHERE items @> $1::jsonb AND status <> 'cancelled'",
        [JSON.stringify([{ productId: q.id }])],
      );
      assert.equal(open.rows[0].n, 3);
      assert.equal(await stockOf(q.id), 97);

      // (b2) Idempotency-Key at the limit: 5 concurrent sends of the key that takes the last slot
      // all answer that one order (the replays are not refused); a new key is.
      const frank = await shopper();
      const keyed = (key: string) =>
        limited.inject({
          method: 'POST',
          url: '/orders',
          headers: { authorization: frank, 'idempotency-key': key },
          payload: { items: one },
        });
      for (const key of ['k1', 'k2']) assert.equal((await keyed(key)).statusCode, 201);
      const last = await Promise.all(Array.from({ length: 5 }, () => keyed('k3')));
      assert.deepEqual(
        last.map((r) => r.statusCode),
        [201, 201, 201, 201, 201],
        last.map((r) => r.body).join('\n'),
      );
      assert.equal(new Set(last.map((r) => r.json().id)).size, 1);
      const k4 = await keyed('k4');
      assert.equal(k4.statusCode, 409, k4.body);
      assert.equal(k4.json().error.details.limit, 'open_orders');

      // (b3) The store alone, its statements made to overlap: a table lock held by another session
      // stops 30 inserts of one customer (10 running, on a pool of their own) until all 10 wait on
      // it; released, they run at once. Without the per-user lock all 10 would pass the count.
      const racers = new pg.Pool({
        connectionString: ordersDb.url,
        max: 10,
        application_name: 'limits-race',
      });
      const store = new PostgresOrderStore(racers);
      const grace = randomUUID();
      const at = new Date().toISOString();
      const line = {
        productId: q.id,
        sku: 'S',
        name: 'N',
        quantity: 1,
        unitPrice: { amount: 1, currency: 'EUR' },
      };
      const blocker = new pg.Client({ connectionString: ordersDb.url });
      await blocker.connect();
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE orders IN EXCLUSIVE MODE');
      const sent = Promise.allSettled(
        Array.from({ length: 30 }, () => {
          const o = {
            id: randomUUID(),
            userId: grace,
            status: 'confirmed' as const,
            items: [{ ...line, lineTotal: line.unitPrice }],
            total: line.unitPrice,
            createdAt: at,
            updatedAt: at,
          };
          return store.insert(
            o,
            {
              type: 'order.created',
              data: {
                orderId: o.id,
                userId: grace,
                status: o.status,
                items: o.items,
                total: o.total,
                createdAt: at,
              },
            },
            undefined,
            { maxOpenOrders: 3, maxUnitsPerProduct: 0, windowHours: 24 },
          );
        }),
      );
      // The marker: the 10 sessions of that pool waiting for a lock (the table lock). Asked on
      // another session: inside the blocker's transaction pg_stat_activity is a frozen snapshot.
      for (;;) {
        const { rows } = await pool.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'limits-race' AND wait_event_type = 'Lock'",
        );
        if (rows[0].n >= 10) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await blocker.query('COMMIT');
      await blocker.end();
      const inserts = await sent;
      await racers.end();
      assert.equal(inserts.filter((r) => r.status === 'fulfilled').length, 3);
      assert.ok(inserts.every((r) => r.status === 'fulfilled' || r.reason instanceof OrderLimitError));
      const graceRows = await pool.query('SELECT count(*)::int AS n FROM orders WHERE user_id = $1', [grace]);
      assert.equal(graceRows.rows[0].n, 3);

      // (c) Cancelling frees a slot (and only one).
      const cancelled = await cancel(carol, placed[0] as string);
      assert.equal(cancelled.statusCode, 200, cancelled.body);
      assert.equal((await order(carol, one)).statusCode, 201);
      assert.equal((await order(carol, one)).statusCode, 409);
    } finally {
      await limited.close();
    }
  });

  test('fault flags: off by default; error rate 1 fails every creation with 500; latency adds delay', async () => {
    const p = await newProduct(10);
    await writeFlags({ rate: 'all' });
    await eventually(
      async () => (await place(auth.alice as string, [{ productId: p.id, quantity: 1 }])).statusCode === 500,
      3000,
    );
    const stock = await stockOf(p.id);
    const res = await place(auth.alice as string, [{ productId: p.id, quantity: 1 }]);
    assert.equal(res.statusCode, 500);
    assert.equal(res.json().error.code, 'FAULT_INJECTED');
    assert.equal(await stockOf(p.id), stock, 'a faulted creation reserves nothing');
    // The latency fault reaches the running app: a creation logs it active at 300 ms (the wait
    // itself is asserted with mock timers in src/faults.test.ts), and switched off again, off.
    const faultLines = (value: number) =>
      appLog
        .lines()
        .filter((l) => String(l.msg) === `FAULT INJECTION ACTIVE: fault.order-latency-ms=${value}`);
    await writeFlags({ latency: 'slow' });
    await eventually(async () => {
      const r = await place(auth.alice as string, [{ productId: p.id, quantity: 1 }]);
      return r.statusCode === 201 && faultLines(300).length > 0;
    }, 3000);
    await writeFlags({});
    await eventually(async () => {
      const r = await place(auth.alice as string, [{ productId: p.id, quantity: 1 }]);
      return (
        r.statusCode === 201 &&
        appLog.lines().some((l) => String(l.msg) === 'fault injection off: fault.order-latency-ms')
      );
    }, 3000);
  });

  test('RabbitMQ outage: orders still commit; after the broker returns every event arrives exactly once', async () => {
    const p = await newProduct(100);
    await brokerRelay.stop();
    await eventually(() => !amqp.isConnected(), 5000);
    const placed: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await place(auth.alice as string, [{ productId: p.id, quantity: 1 }]);
      assert.equal(r.statusCode, 201, r.body);
      placed.push(r.json().id);
    }
    // The relay has tried (and failed) to publish them: they wait in the outbox.
    const waiting = async () =>
      (
        await pool.query<{ n: string; tried: string }>(
          'SELECT count(*) AS n, count(*) FILTER (WHERE attempts > 0) AS tried FROM outbox WHERE published_at IS NULL',
        )
      ).rows[0] as { n: string; tried: string };
    await eventually(async () => Number((await waiting()).tried) >= 1, 10_000);
    const pending = Number((await waiting()).n);
    assert.ok(pending >= placed.length, `events wait in the outbox (${pending})`);
    assert.equal(events.filter((e) => placed.includes(e.data.orderId as string)).length, 0);
    await brokerRelay.start();
    await eventually(
      () =>
        events.filter((e) => e.type === 'order.created' && placed.includes(e.data.orderId as string))
          .length === placed.length,
      20_000,
    );
    // A marker stored after them arrives after anything the relay sent before it (one channel, in order).
    const marker = testEvent('order.test-marker', {});
    await withTransaction(pool, (c) => enqueueEvent(c, marker));
    await eventually(() => events.some((e) => e.id === marker.id), 20_000);
    const mine = events.filter((e) => placed.includes(e.data.orderId as string));
    assert.equal(mine.length, placed.length, 'no duplicates');
    assert.equal(new Set(mine.map((e) => e.id)).size, placed.length);
  });
});

describe('order-service when product-service is down or slow', () => {
  let ordersDb: Awaited<ReturnType<typeof tempDatabase>>;
  let pool: pg.Pool;
  let keys: Awaited<ReturnType<typeof tokenKit>>;

  before(async () => {
    keys = await tokenKit();
    ordersDb = await tempDatabase('orders_down');
    await migrate(ordersDb.url, MIGRATIONS_DIR);
    pool = connectPostgres(ordersDb.url, defaults.PG_POOL_MAX);
  });
  after(async () => {
    await pool.end();
    await ordersDb.drop();
  });

  async function appWith(baseUrl: string, timeoutMs = 300) {
    const inventory = new ProductServiceClient({
      baseUrl,
      logger,
      timeoutMs,
      retries: 1,
      breaker: { resetTimeoutMs: 60_000 },
      serviceToken: async () => 'stand-in',
    });
    const built = await bareApp(pool, inventory, keys);
    return { ...built, inventory };
  }

  test('the start-up warm-up runs on the migrated schema: PG_POOL_MIN sessions warmed, nothing written', async () => {
    const fresh = connectPostgres(ordersDb.url, defaults.PG_POOL_MAX, defaults.PG_POOL_MIN);
    try {
      const before = await fresh.query<{ n: number }>('SELECT count(*)::int AS n FROM orders');
      assert.deepEqual(await warmOrderStore(fresh), { warmed: defaults.PG_POOL_MIN });
      assert.equal(fresh.totalCount, defaults.PG_POOL_MIN);
      const afterWarm = await fresh.query<{ n: number }>('SELECT count(*)::int AS n FROM orders');
      assert.equal(afterWarm.rows[0]?.n, before.rows[0]?.n);
    } finally {
      await fresh.end();
    }
  });

  test('down: 503 PRODUCT_SERVICE_UNAVAILABLE, no order; the circuit opens and later calls fail fast', async () => {
    const { app, inventory } = await appWith('http://127.0.0.1:1');
    const authz = `Bearer ${await keys.sign(randomUUID())}`;
    try {
      const before = Number((await pool.query('SELECT count(*) AS n FROM orders')).rows[0].n);
      for (let i = 0; i < 6; i++) {
        const r = await app.inject({
          method: 'POST',
          url: '/orders',
          headers: { authorization: authz },
          payload: { items: [{ productId: randomUUID(), quantity: 1 }] },
        });
        assert.equal(r.statusCode, 503);
        assert.equal(r.json().error.code, 'PRODUCT_SERVICE_UNAVAILABLE');
      }
      assert.equal(inventory.breaker.opened, true);
      const seen = { reject: 0, failure: 0, success: 0 };
      inventory.breaker.on('reject', () => seen.reject++);
      inventory.breaker.on('failure', () => seen.failure++);
      inventory.breaker.on('success', () => seen.success++);
      const fast = await app.inject({
        method: 'POST',
        url: '/orders',
        headers: { authorization: authz },
        payload: { items: [{ productId: randomUUID(), quantity: 1 }] },
      });
      assert.equal(fast.statusCode, 503);
      // Answered by the open circuit: refused without a call reaching product-service.
      assert.deepEqual(seen, { reject: 1, failure: 0, success: 0 });
      assert.equal(Number((await pool.query('SELECT count(*) AS n FROM orders')).rows[0].n), before);
    } finally {
      inventory.shutdown();
      await app.close();
    }
  });

  test('slow: a reserve that timed out is released (and queued until the release lands)', async () => {
    // A stand-in product-service whose reserve answers too late and whose release fails at first.
    const calls: string[] = [];
    let releaseWorks = false;
    const server = http.createServer((req, res) => {
      calls.push(`${req.method} ${req.url}`);
      if (req.url === '/internal/reservations') {
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{}');
        }, 1000).unref();
        return;
      }
      res.writeHead(releaseWorks ? 200 : 500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ orderId: 'x', status: 'released', lines: [] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    const { app, orders, inventory } = await appWith(`http://127.0.0.1:${port}`, 200);
    try {
      const r = await app.inject({
        method: 'POST',
        url: '/orders',
        headers: { authorization: `Bearer ${await keys.sign(randomUUID())}` },
        payload: { items: [{ productId: randomUUID(), quantity: 1 }] },
      });
      assert.equal(r.statusCode, 503);
      const releases = calls.filter((c) => c.endsWith('/release'));
      assert.ok(releases.length >= 1, 'a release was attempted');
      const orderId = releases[0]?.split('/')[3];
      const queued = await pool.query('SELECT order_id FROM pending_releases WHERE order_id = $1', [orderId]);
      assert.equal(queued.rowCount, 1, 'the failed release is queued');
      releaseWorks = true;
      inventory.breaker.close();
      await pool.query('UPDATE pending_releases SET next_attempt_at = now()');
      assert.ok((await orders.retryPendingReleases()) >= 1);
      const left = await pool.query('SELECT 1 FROM pending_releases WHERE order_id = $1', [orderId]);
      assert.equal(left.rowCount, 0);
      assert.ok(calls.filter((c) => c.includes(`${orderId}/release`)).length >= 2);
    } finally {
      inventory.shutdown();
      await app.close();
      server.closeAllConnections();
      server.close();
    }
  });
});
