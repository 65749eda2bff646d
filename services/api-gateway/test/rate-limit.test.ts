import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { generateSigningKeys, signAccessToken } from '@mdp/platform/auth';
import { eventually, tempRedisPrefix } from '@mdp/platform/testing';
import { deadUrl, type GatewayHarness, startCatalogUpstream, startGateway } from './harness.js';

const flagFile = (limit: number) =>
  JSON.stringify({
    flags: {
      'gateway.rate-limit-per-minute': {
        state: 'ENABLED',
        variants: { low: limit },
        defaultVariant: 'low',
      },
    },
  });

describe('rate limits: per IP and per user, shared in Redis, limit from the flag at runtime', () => {
  let dir: string;
  let file: string;
  const prefix = tempRedisPrefix('gwrl');
  let keys: { privateKey: string; publicKey: string };
  let catalog: Awaited<ReturnType<typeof startCatalogUpstream>>;
  let gw1: GatewayHarness;
  let gw2: GatewayHarness;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'gw-flags-'));
    file = path.join(dir, 'flags.json');
    await writeFile(file, flagFile(3));
    keys = await generateSigningKeys();
    catalog = await startCatalogUpstream(keys.publicKey);
    const dead = await deadUrl();
    const common = {
      publicKey: keys.publicKey,
      upstreams: { user: dead, product: catalog.url, order: dead, notification: dead },
      keyPrefix: prefix.keyPrefix,
      flagsFile: file,
      trustProxy: true,
    };
    // Two replicas sharing one Redis.
    gw1 = await startGateway(common);
    gw2 = await startGateway(common);
  });

  after(async () => {
    await gw1?.close();
    await gw2?.close();
    await catalog?.app.close();
    await prefix.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const get = (gw: GatewayHarness, headers: Record<string, string>) =>
    gw.app.inject({ url: '/api/products', headers });

  it('anonymous clients are counted per IP, across replicas; 429 with Retry-After in the contract shape', async () => {
    const ip = { 'x-forwarded-for': '198.51.100.1' };
    assert.equal((await get(gw1, ip)).statusCode, 200);
    assert.equal((await get(gw2, ip)).statusCode, 200);
    const third = await get(gw1, ip);
    assert.equal(third.statusCode, 200);
    assert.equal(third.headers['x-ratelimit-limit'], '3');
    assert.equal(third.headers['x-ratelimit-remaining'], '0');
    const limited = await get(gw2, { ...ip, 'x-request-id': 'rl-1' });
    assert.equal(limited.statusCode, 429);
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    assert.deepEqual(Object.keys(limited.json().error).sort(), ['code', 'message', 'requestId']);
    assert.equal(limited.json().error.code, 'TOO_MANY_REQUESTS');
    assert.equal(limited.json().error.requestId, 'rl-1');
    // Prepending a forged address does not help: the client IP is the one the ingress appended.
    const forged = await get(gw1, { 'x-forwarded-for': '203.0.113.77, 198.51.100.1' });
    assert.equal(forged.statusCode, 429);
    // Another address is not affected.
    assert.equal((await get(gw1, { 'x-forwarded-for': '198.51.100.2' })).statusCode, 200);
    // The counters live in Redis, not in a replica's memory.
    const stored = await gw1.redis.keys(`${prefix.keyPrefix}rl:*`);
    assert.ok(
      stored.some((k) => k.includes('198.51.100.1')),
      `keys: ${stored.join(', ')}`,
    );
  });

  it('signed-in users are counted per user, whatever their IP', async () => {
    const alice = (await signAccessToken({ id: 'alice', role: 'customer' }, keys.privateKey)).token;
    const bob = (await signAccessToken({ id: 'bob', role: 'customer' }, keys.privateKey)).token;
    for (let i = 0; i < 3; i++) {
      const res = await get(i % 2 ? gw1 : gw2, {
        authorization: `Bearer ${alice}`,
        'x-forwarded-for': `192.0.2.${i + 1}`,
      });
      assert.equal(res.statusCode, 200);
    }
    const limited = await get(gw1, { authorization: `Bearer ${alice}`, 'x-forwarded-for': '192.0.2.99' });
    assert.equal(limited.statusCode, 429);
    assert.ok(Number(limited.headers['retry-after']) > 0);
    // Bob from one of Alice's addresses is still fine.
    assert.equal(
      (await get(gw2, { authorization: `Bearer ${bob}`, 'x-forwarded-for': '192.0.2.1' })).statusCode,
      200,
    );
  });

  it('changing the flag changes the limit without a restart', async () => {
    const ip = { 'x-forwarded-for': '198.51.100.50' };
    for (let i = 0; i < 3; i++) assert.equal((await get(gw1, ip)).statusCode, 200);
    assert.equal((await get(gw1, ip)).statusCode, 429);
    await writeFile(file, flagFile(10));
    // Both replicas pick the new value up from the flag file (polled every 100 ms here); a
    // probe address shows when. Limits are cached per key for up to a second.
    for (const [i, gw] of [gw1, gw2].entries()) {
      const probe = { 'x-forwarded-for': `198.51.100.${60 + i}` };
      await eventually(async () => (await get(gw, probe)).headers['x-ratelimit-limit'] === '10', 5000, 150);
    }
    // The address that was refused at 3 comes under the new limit, on either replica, once its
    // cached limit (up to a second old) is re-read.
    await eventually(
      async () => {
        const later = await get(gw2, ip);
        return later.statusCode === 200 && later.headers['x-ratelimit-limit'] === '10';
      },
      5000,
      150,
    );
    assert.equal((await get(gw1, ip)).statusCode, 200);
  });
});

describe('rate limits with Redis unreachable', () => {
  it('requests pass at once, unlimited, and /readyz names Redis', async () => {
    const keys = await generateSigningKeys();
    const catalog = await startCatalogUpstream(keys.publicKey);
    const dead = await deadUrl();
    const { createRedis } = await import('@mdp/platform/redis');
    const { buildApp } = await import('../src/app.js');
    const { Health } = await import('@mdp/platform/health');
    const { Metrics } = await import('@mdp/platform/metrics');
    const { initFlags } = await import('@mdp/platform/flags');
    const { logger } = await import('./harness.js');
    const redis = createRedis(`redis://127.0.0.1:${new URL(await deadUrl()).port}`, { timeoutMs: 2000 });
    redis.connect().catch(() => {});
    const info = { service: 'api-gateway', version: 'test', commit: 'test' };
    const metrics = new Metrics(info, { defaultMetrics: false });
    const flags = await initFlags({ FLAGS_PROVIDER: 'none' }, { logger, metrics, domain: 'gw-test-noredis' });
    const app = buildApp({
      info,
      logger,
      metrics,
      health: new Health(),
      flags,
      redis,
      jwtPublicKey: keys.publicKey,
      upstreams: { user: dead, product: catalog.url, order: dead, notification: dead },
    });
    try {
      await app.ready();
      // At once: no request waits on Redis, because none even sends it a command.
      const sent = mock.method(redis, 'sendCommand');
      for (let i = 0; i < 5; i++) {
        const res = await app.inject({ url: '/api/products' });
        assert.equal(res.statusCode, 200);
      }
      assert.equal(sent.mock.callCount(), 0, 'no rate-limit command waited for the unreachable Redis');
      sent.mock.restore();
      const ready = await app.inject({ url: '/readyz' });
      assert.equal(ready.statusCode, 503);
      assert.match(ready.json().error.message, /redis/);
    } finally {
      await app.close();
      await flags.close();
      redis.disconnect();
      await catalog.app.close();
    }
  });
});
