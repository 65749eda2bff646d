/**
 * Issue 15, finding 2: anonymous traffic must not be able to grow the catalog cache without bound.
 * 1200 list requests with distinct searches, made-up categories, odd page sizes and pages of a
 * real category leave at most CACHEABLE_LIMITS × (categories + 1) × pages list entries in Redis.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { jwtRouteAuth } from '@mdp/platform/auth';
import type { HttpApp } from '@mdp/platform/http';
import { createRedis } from '@mdp/platform/redis';
import { TEST_REDIS_URL, type tempDatabase, tempRedisPrefix } from '@mdp/platform/testing';
import type { PostgresProductRepository } from '../src/adapters/postgres.js';
import { CACHEABLE_LIMITS } from '../src/domain/catalog.js';
import { migratedCatalog, quietApp, tokenKit } from './helpers.js';

let app: HttpApp;
let db: Awaited<ReturnType<typeof tempDatabase>>;
let repo: PostgresProductRepository;
let prefix: ReturnType<typeof tempRedisPrefix>;
let redis: ReturnType<typeof createRedis>;
const category = `bound-${randomUUID().slice(0, 8)}`;

before(async () => {
  ({ db, repo } = await migratedCatalog('products_bound', { max: 10 }));
  prefix = tempRedisPrefix('products-bound');
  redis = createRedis(TEST_REDIS_URL, { keyPrefix: prefix.keyPrefix });
  await redis.connect();
  const keys = await tokenKit();
  app = quietApp({ catalog: repo, redis, auth: jwtRouteAuth(keys.publicPem) });
  await app.ready();
  const admin = `Bearer ${await keys.sign(randomUUID(), 'admin')}`;
  for (let i = 0; i < 3; i++) {
    const res = await app.inject({
      method: 'POST',
      url: '/products',
      headers: { authorization: admin },
      payload: {
        sku: `B-${randomUUID().slice(0, 8)}`,
        name: `Kettle ${i}`,
        description: 'A kettle',
        category,
        price: { amount: 3000, currency: 'EUR' },
        stock: 5,
      },
    });
    assert.equal(res.statusCode, 201, res.body);
  }
});

after(async () => {
  await app?.close();
  redis?.disconnect();
  await repo?.close();
  await Promise.all([db?.drop(), prefix?.drop()]);
});

test('the growth attack on the list cache stays under a bound set by the catalog, not the attacker', async (t) => {
  const listKeys = async () => (await redis.keys(`${prefix.keyPrefix}l:*`)).length;
  const urls: string[] = [];
  for (let i = 0; i < 400; i++) urls.push(`/products?q=${encodeURIComponent(`word${i} ${randomUUID()}`)}`);
  for (let i = 0; i < 400; i++) urls.push(`/products?category=${randomUUID()}`);
  for (let i = 0; i < 400; i++) urls.push(`/products?category=${category}&limit=${(i % 100) + 1}`);
  for (const url of urls) {
    const res = await app.inject({ url });
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
  }
  // Pages of the real category, walked by cursor at every cacheable size.
  for (const limit of CACHEABLE_LIMITS) {
    let cursor: string | null = null;
    do {
      const res: { json(): { nextCursor: string | null } } = await app.inject({
        url: `/products?category=${category}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      });
      cursor = res.json().nextCursor;
    } while (cursor);
  }
  const stored = await listKeys();
  // One category (+ none), 3 products: one page per cacheable size.
  const bound = CACHEABLE_LIMITS.size * 2;
  t.diagnostic(`list cache entries after ${urls.length} hostile requests: ${stored} (bound ${bound})`);
  assert.ok(stored >= 1, 'the ordinary pages are still cached');
  assert.ok(stored <= bound, `${stored} list entries`);
});
