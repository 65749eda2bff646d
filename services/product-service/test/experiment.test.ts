/**
 * Issue 13: the `catalog.ranking` A/B experiment in the running service. Variants come from the
 * shipped flag file (flagd `fractional`, targetingKey = user id) through OpenFeature; exposures
 * and conversions are counted once per user (experiment_exposures_total /
 * experiment_conversions_total{experiment,variant}); and `npm run experiment:readout` reads those
 * very counters from a real Prometheus that scrapes this service.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { jwtRouteAuth } from '@mdp/platform/auth';
import { type Flags, initFlags } from '@mdp/platform/flags';
import { Health } from '@mdp/platform/health';
import type { HttpApp } from '@mdp/platform/http';
import { createLogger } from '@mdp/platform/logger';
import { Metrics } from '@mdp/platform/metrics';
import { createRedis } from '@mdp/platform/redis';
import { eventually, TEST_REDIS_URL, type tempDatabase, tempRedisPrefix } from '@mdp/platform/testing';
import { repoRoot, toolPath } from '@mdp/platform/tools';
import type { PostgresProductRepository } from '../src/adapters/postgres.js';
import { buildApp } from '../src/app.js';
import { internalAuth, migratedCatalog, serviceAuth, tokenKit } from './helpers.js';

const ROOT = repoRoot();
const SHIPPED_FLAGS = path.join(ROOT, 'config/flags/flags.json');
const info = { service: 'product-service', version: 't', commit: 't' };
const FLAG = 'catalog.ranking';

async function counters(metrics: Metrics, name: string): Promise<Record<string, number>> {
  const m = (await metrics.registry.getSingleMetric(name)?.get()) as
    | { values: { labels: Record<string, string>; value: number }[] }
    | undefined;
  const out: Record<string, number> = {};
  for (const v of m?.values ?? [])
    if (v.labels.experiment === FLAG) out[v.labels.variant as string] = v.value;
  return out;
}

/** A free port in this branch's range (19300-19399). */
async function portInRange(): Promise<number> {
  for (let port = 19300; port < 19400; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port in 19300-19399');
}

describe('catalog.ranking A/B experiment (shipped flag file, real Redis and PostgreSQL)', () => {
  let app: HttpApp;
  let metrics: Metrics;
  let flags: Flags;
  let db: Awaited<ReturnType<typeof tempDatabase>>;
  let repo: PostgresProductRepository;
  let redisPrefix: ReturnType<typeof tempRedisPrefix>;
  let redis: ReturnType<typeof createRedis>;
  let keys: Awaited<ReturnType<typeof tokenKit>>;
  const category = `exp-${randomUUID().slice(0, 8)}`;
  const productIds: string[] = [];
  const users = Array.from({ length: 40 }, () => randomUUID());
  const variantOf = new Map<string, string>();

  before(async () => {
    ({ db, repo } = await migratedCatalog('products_exp', { max: 10 }));
    redisPrefix = tempRedisPrefix('products-exp');
    redis = createRedis(TEST_REDIS_URL, { keyPrefix: redisPrefix.keyPrefix });
    await redis.connect();
    const logger = createLogger({ service: 'product-service', level: 'silent' });
    metrics = new Metrics(info, { defaultMetrics: false });
    flags = await initFlags(
      { FLAGS_PROVIDER: 'file', FLAGS_FILE: SHIPPED_FLAGS },
      { logger, metrics, domain: `product-exp-${process.pid}` },
    );
    keys = await tokenKit();
    app = buildApp({
      info,
      logger,
      metrics,
      health: new Health(),
      flags,
      catalog: repo,
      redis,
      // Stock-low events are not under test here (api.test.ts covers them over RabbitMQ).
      events: { stockLow: async () => {} },
      auth: jwtRouteAuth(keys.publicPem),
      internalAuth,
    });
    await app.ready();
    const admin = `Bearer ${await keys.sign(randomUUID(), 'admin')}`;
    // Out of stock / in stock alternating in the page's order (by id), so the two rankings always
    // differ on the page: stock given at creation would follow random ids (CI once drew ids that put
    // every product in stock first, and the in-stock-first page equalled control's).
    for (let i = 0; i < 6; i++) {
      const res = await app.inject({
        method: 'POST',
        url: '/products',
        headers: { authorization: admin },
        payload: {
          sku: `EXP-${randomUUID().slice(0, 8)}`,
          name: `Lamp ${i}`,
          description: 'A lamp',
          category,
          price: { amount: 2500, currency: 'EUR' },
          stock: 0,
        },
      });
      assert.equal(res.statusCode, 201, res.body);
      productIds.push(res.json().id);
    }
    productIds.sort();
    for (const [i, id] of productIds.entries()) {
      if (i % 2 === 0) continue;
      const res = await app.inject({
        method: 'PATCH',
        url: `/products/${id}`,
        headers: { authorization: admin },
        payload: { stock: 50 },
      });
      assert.equal(res.statusCode, 200, res.body);
    }
    for (const u of users) variantOf.set(u, await flags.string(FLAG, 'control', { targetingKey: u }));
  });

  after(async () => {
    await app?.close();
    await flags?.close();
    redis?.disconnect();
    await repo?.close();
    await Promise.all([db?.drop(), redisPrefix?.drop()]);
  });

  const list = async (userId?: string, authorization?: string) => {
    const headers: Record<string, string> = {};
    if (authorization) headers.authorization = authorization;
    else if (userId) headers.authorization = `Bearer ${await keys.sign(userId)}`;
    const res = await app.inject({ url: `/products?category=${category}&limit=20`, headers });
    assert.equal(res.statusCode, 200, res.body);
    return res.json().items as { id: string; stock: number }[];
  };
  const reserve = async (orderId: string, userId?: string) =>
    app.inject({
      method: 'POST',
      url: '/internal/reservations',
      headers: await serviceAuth(),
      payload: { orderId, items: [{ productId: productIds[1], quantity: 1 }], ...(userId ? { userId } : {}) },
    });

  test('the shipped flag splits users between both variants, sticky per user id', async () => {
    const split = { control: 0, 'in-stock-first': 0 } as Record<string, number>;
    for (const v of variantOf.values()) split[v] = (split[v] ?? 0) + 1;
    assert.deepEqual(Object.keys(split).sort(), ['control', 'in-stock-first']);
    assert.ok(
      (split.control as number) > 0 && (split['in-stock-first'] as number) > 0,
      JSON.stringify(split),
    );
    for (const u of users.slice(0, 5))
      assert.equal(await flags.string(FLAG, 'control', { targetingKey: u }), variantOf.get(u));
  });

  test('each variant ranks the page its way; anonymous callers and bad tokens get control, uncounted', async () => {
    const anonymous = await list();
    const badToken = await list(undefined, 'Bearer not.a.token');
    assert.deepEqual(
      badToken.map((p) => p.id),
      anonymous.map((p) => p.id),
    );
    assert.deepEqual(await counters(metrics, 'experiment_exposures_total'), {});
    for (const u of users) {
      const items = await list(u);
      assert.deepEqual(items.map((p) => p.id).sort(), anonymous.map((p) => p.id).sort());
      if (variantOf.get(u) === 'in-stock-first') {
        const firstEmpty = items.findIndex((p) => p.stock <= 0);
        assert.ok(
          items.slice(firstEmpty).every((p) => p.stock <= 0),
          'in-stock-first: every product in stock comes first',
        );
        assert.notDeepEqual(
          items.map((p) => p.id),
          anonymous.map((p) => p.id),
        );
      } else
        assert.deepEqual(
          items.map((p) => p.id),
          anonymous.map((p) => p.id),
        );
    }
  });

  test('exposures count once per user, by variant', async () => {
    for (const u of users.slice(0, 10)) await list(u); // seen again: no new exposure
    const expected: Record<string, number> = {};
    for (const v of variantOf.values()) expected[v] = (expected[v] ?? 0) + 1;
    assert.deepEqual(await counters(metrics, 'experiment_exposures_total'), expected);
  });

  test('a conversion is an order placed by an exposed user: once per user, replays and unexposed users not counted', async () => {
    const buyers = users.slice(0, 12);
    for (const u of buyers) assert.equal((await reserve(randomUUID(), u)).statusCode, 200);
    // The same order again (order-service retrying), and a second order of the same user.
    const again = randomUUID();
    assert.equal((await reserve(again, users[0])).statusCode, 200);
    assert.equal((await reserve(again, users[0])).statusCode, 200);
    // Never exposed, or no user given: not a conversion.
    assert.equal((await reserve(randomUUID(), randomUUID())).statusCode, 200);
    assert.equal((await reserve(randomUUID())).statusCode, 200);
    const expected: Record<string, number> = {};
    for (const u of buyers)
      expected[variantOf.get(u) as string] = (expected[variantOf.get(u) as string] ?? 0) + 1;
    assert.deepEqual(await counters(metrics, 'experiment_conversions_total'), expected);
  });

  test('npm run experiment:readout reads these counters through a real Prometheus scraping the service', async (t) => {
    const exposures = await counters(metrics, 'experiment_exposures_total');
    const conversions = await counters(metrics, 'experiment_conversions_total');
    await app.listen({ host: '127.0.0.1', port: 0 });
    const target = `127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const dir = await mkdtemp(path.join(tmpdir(), 'mdp-exp-prom-'));
    const port = await portInRange();
    await writeFile(
      path.join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'scrape_configs:',
        '  - job_name: product-service',
        `    static_configs: [{ targets: ['${target}'], labels: { app: product-service } }]`,
        '',
      ].join('\n'),
    );
    let prom: ChildProcess | undefined;
    try {
      prom = spawn(
        toolPath('prometheus'),
        [
          `--config.file=${path.join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${path.join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        { stdio: 'ignore' },
      );
      const run = promisify(execFile);
      const readout = async () => {
        const { stdout } = await run(
          process.execPath,
          ['--conditions=mdp-source', '--import', 'tsx', 'scripts/experiment/readout.ts', FLAG, '--json'],
          { cwd: ROOT, env: { ...process.env, PROMETHEUS_URL: `http://127.0.0.1:${port}` }, timeout: 30_000 },
        );
        return JSON.parse(stdout.trim().split('\n').at(-1) as string) as {
          flag: string;
          arms: { variant: string; exposures: number; conversions: number; rate: number; ci95: number[] }[];
          pValue: number | null;
        };
      };
      // The marker: Prometheus has scraped the service (the readout sees both arms).
      const r = await eventually(
        async () => {
          const out = await readout();
          return out.arms.length === 2 ? out : undefined;
        },
        60_000,
        1000,
      );
      t.diagnostic(`experiment readout from Prometheus: ${JSON.stringify(r)}`);
      assert.equal(r.flag, FLAG);
      for (const arm of r.arms) {
        assert.equal(arm.exposures, exposures[arm.variant], `${arm.variant} exposures`);
        assert.equal(arm.conversions, conversions[arm.variant] ?? 0, `${arm.variant} conversions`);
        assert.ok(Math.abs(arm.rate - arm.conversions / arm.exposures) < 1e-9);
      }
      assert.equal(typeof r.pValue, 'number');
    } finally {
      prom?.kill('SIGTERM');
      if (prom && prom.exitCode === null) await new Promise((resolve) => prom?.once('exit', resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
