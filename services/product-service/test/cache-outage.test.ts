import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { test } from 'node:test';
import { jwtRouteAuth } from '@mdp/platform/auth';
import { createRedis } from '@mdp/platform/redis';
import { eventually, TEST_REDIS_URL, tempRedisPrefix } from '@mdp/platform/testing';
import { migratedCatalog, quietApp, tokenKit } from './helpers.js';

/** A TCP relay in front of Redis that the test cuts and restores. */
function relay(target: URL) {
  let server: net.Server | undefined;
  const sockets = new Set<net.Socket>();
  let port = 0;
  return {
    async start() {
      server = net.createServer((client) => {
        const up = net.connect(Number(target.port || 6379), target.hostname);
        for (const s of [client, up]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => {
            client.destroy();
            up.destroy();
          });
        }
        client.pipe(up).pipe(client);
      });
      await new Promise<void>((r) => server?.listen(port, '127.0.0.1', () => r()));
      port = (server.address() as net.AddressInfo).port;
      return port;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      const srv = server;
      server = undefined;
      if (srv) await new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

test('a write while Redis is away leaves no stale entry once Redis is back', async () => {
  const { db, repo } = await migratedCatalog('products_cache_outage');
  const prefix = tempRedisPrefix('products_outage');
  const target = new URL(TEST_REDIS_URL);
  const r = relay(target);
  const port = await r.start();
  const redisUrl = new URL(TEST_REDIS_URL);
  redisUrl.port = String(port);
  const redis = createRedis(redisUrl.toString(), { keyPrefix: prefix.keyPrefix, timeoutMs: 300 });
  await redis.connect();
  const keys = await tokenKit();
  const app = quietApp({ catalog: repo, redis, auth: jwtRouteAuth(keys.publicPem) });
  const admin = `Bearer ${await keys.sign(randomUUID(), 'admin')}`;
  try {
    const p = (
      await app.inject({
        method: 'POST',
        url: '/products',
        headers: { authorization: admin },
        payload: {
          sku: 'CO-1',
          name: 'Kettle',
          description: '',
          category: 'kitchen',
          price: { amount: 3000, currency: 'EUR' },
          stock: 5,
        },
      })
    ).json();
    const price = async () =>
      (await app.inject({ method: 'GET', url: `/products/${p.id}` })).json().price.amount as number;
    assert.equal(await price(), 3000);
    assert.equal(await price(), 3000); // now cached
    assert.ok(await redis.exists(`p:${p.id}`));

    await r.stop();
    await eventually(() => redis.status !== 'ready', 5000);
    const patched = await app.inject({
      method: 'PATCH',
      url: `/products/${p.id}`,
      headers: { authorization: admin },
      payload: { price: { amount: 2500, currency: 'EUR' } },
    });
    assert.equal(patched.statusCode, 200, 'writes work without Redis');
    assert.equal(await price(), 2500, 'reads go to the store while Redis is away');

    await r.start();
    await eventually(() => redis.status === 'ready', 10_000, 100);
    // The cached 3000 from before the outage must never be served again.
    for (let i = 0; i < 5; i++) assert.equal(await price(), 2500);
    await eventually(async () => !(await redis.exists(`p:${p.id}`)) || (await price()) === 2500);
  } finally {
    await app.close();
    redis.disconnect();
    await r.stop();
    await repo.close();
    await Promise.all([db.drop(), prefix.drop()]);
  }
});
