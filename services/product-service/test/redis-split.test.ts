/**
 * Issue 15, finding 2: Redis cannot be filled by anonymous traffic. The shipped configurations run
 * in two real redis-server processes this test owns (never the machine's Redis on 6379):
 *   databases/redis-cache/redis.conf  product-service's cache: maxmemory, allkeys-lru
 *   databases/redis/redis.conf        refresh tokens, sessions, limits: maxmemory, noeviction
 * A flood of cache entries (far more bytes than the cache's maxmemory, as a cache entry per
 * distinct query would once have made) stays under maxmemory by eviction, while product-service
 * keeps answering and caching; the tokens instance is untouched by it, and when filled directly it
 * refuses writes (OOM) instead of evicting a refresh token, after the exporter's ratio used / max
 * (what the alert RedisMemoryHigh reads) has passed 0.8. Figures are printed.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { jwtRouteAuth } from '@mdp/platform/auth';
import type { HttpApp } from '@mdp/platform/http';
import { createRedis } from '@mdp/platform/redis';
import { eventually, type tempDatabase } from '@mdp/platform/testing';
import type { PostgresProductRepository } from '../src/adapters/postgres.js';
import { migratedCatalog, quietApp, tokenKit } from './helpers.js';

const repo = path.resolve(import.meta.dirname, '../../..');
const CACHE_CONF = path.join(repo, 'databases/redis-cache/redis.conf');
const TOKENS_CONF = path.join(repo, 'databases/redis/redis.conf');
// This suite's own ports (46000-46999), loopback only.
const CACHE_PORT = 46379;
const TOKENS_PORT = 46380;
const EXPORTER_PORT = 46121;

const procs: ChildProcess[] = [];
const dirs: string[] = [];

function setting(file: string, name: string): string | undefined {
  return new RegExp(`^${name}\\s+(\\S+)`, 'm').exec(readFileSync(file, 'utf8'))?.[1];
}

function bytes(size: string): number {
  const m = /^(\d+)(kb|mb|gb)?$/i.exec(size);
  assert.ok(m, `maxmemory ${size}`);
  const unit = { kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? '').toLowerCase()] ?? 1;
  return Number(m[1]) * unit;
}

async function startRedis(conf: string, port: number) {
  const dir = mkdtempSync(path.join(tmpdir(), 'redis-split-'));
  dirs.push(dir);
  // The shipped file, but for where it listens and writes: its `dir /data` (the volume) is the
  // test's temp dir (Redis would refuse to start on a missing /data before reading --dir).
  const local = path.join(dir, 'redis.conf');
  writeFileSync(local, readFileSync(conf, 'utf8').replace(/^dir .*$/m, `dir ${dir}`));
  const proc = spawn('redis-server', [local, '--port', String(port), '--bind', '127.0.0.1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.push(proc);
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('Ready to accept connections')) resolve();
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`redis-server ${conf} exited ${code}: ${log}`)));
  });
  const client = createRedis(`redis://127.0.0.1:${port}`, { timeoutMs: 15_000 });
  await client.connect();
  return client;
}

async function info(client: ReturnType<typeof createRedis>, section: string) {
  const text = await client.info(section);
  return Object.fromEntries(
    text
      .split('\r\n')
      .filter((l) => l.includes(':'))
      .map((l) => l.split(':') as [string, string]),
  );
}

/** Writes `count` distinct keys of `size` bytes in pipelines; returns how many writes failed. */
async function flood(client: ReturnType<typeof createRedis>, prefix: string, count: number, size: number) {
  const value = 'x'.repeat(size);
  let failed = 0;
  for (let i = 0; i < count; i += 1000) {
    const p = client.pipeline();
    for (let j = i; j < Math.min(count, i + 1000); j++) p.set(`${prefix}${j}`, value, 'EX', 600);
    for (const [err] of (await p.exec()) ?? []) if (err) failed++;
  }
  return failed;
}

async function maxmemory(client: ReturnType<typeof createRedis>): Promise<number> {
  return Number(((await client.config('GET', 'maxmemory')) as string[])[1]);
}

let app: HttpApp;
let db: Awaited<ReturnType<typeof tempDatabase>>;
let catalog: PostgresProductRepository;
let cache: ReturnType<typeof createRedis>;
let tokens: ReturnType<typeof createRedis>;

before(async () => {
  [cache, tokens] = await Promise.all([
    startRedis(CACHE_CONF, CACHE_PORT),
    startRedis(TOKENS_CONF, TOKENS_PORT),
  ]);
  ({ db, repo: catalog } = await migratedCatalog('products_split', { max: 5 }));
  const keys = await tokenKit();
  app = quietApp({ catalog, redis: cache, auth: jwtRouteAuth(keys.publicPem) });
  await app.ready();
  const admin = `Bearer ${await keys.sign(randomUUID(), 'admin')}`;
  const res = await app.inject({
    method: 'POST',
    url: '/products',
    headers: { authorization: admin },
    payload: {
      sku: `S-${randomUUID().slice(0, 8)}`,
      name: 'Teapot',
      description: 'A teapot',
      category: 'split',
      price: { amount: 2500, currency: 'EUR' },
      stock: 5,
    },
  });
  assert.equal(res.statusCode, 201, res.body);
});

after(async () => {
  await app?.close();
  cache?.disconnect();
  tokens?.disconnect();
  await catalog?.close();
  await db?.drop();
  for (const p of procs) p.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('the shipped configurations: the cache evicts (allkeys-lru), the tokens instance never does (noeviction); both bounded', async () => {
  assert.equal(setting(CACHE_CONF, 'maxmemory-policy'), 'allkeys-lru');
  assert.equal(setting(TOKENS_CONF, 'maxmemory-policy'), 'noeviction');
  // The running servers took them (not only the files say so).
  assert.deepEqual(await cache.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'allkeys-lru']);
  assert.deepEqual(await tokens.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'noeviction']);
  for (const [client, file] of [
    [cache, CACHE_CONF],
    [tokens, TOKENS_CONF],
  ] as const) {
    const max = await maxmemory(client);
    assert.ok(max > 0, `${file}: maxmemory is set`);
    assert.equal(max, bytes(setting(file, 'maxmemory') ?? '0'));
  }
});

test('a cache flood of twice maxmemory stays under maxmemory; product-service keeps serving; the tokens instance is untouched', async () => {
  const max = await maxmemory(cache);
  const refresh = `rt:${randomUUID()}`;
  await tokens.set(refresh, 'family-1', 'EX', 7 * 24 * 3600);
  const tokensBefore = Number((await info(tokens, 'memory')).used_memory);
  const size = 4096;
  const count = Math.ceil((2 * max) / size);
  const failed = await flood(cache, 'flood:', count, size);
  const mem = await info(cache, 'memory');
  const stats = await info(cache, 'stats');
  const kept = await cache.dbsize();
  process.stdout.write(
    `# redis-split cache flood: ${count} keys x ${size} B = ${count * size} B written; ` +
      `used_memory ${mem.used_memory} B of maxmemory ${max} B, ${kept} keys kept, ${stats.evicted_keys} evicted, ${failed} writes failed\n`,
  );
  assert.equal(failed, 0, 'an evicting cache refuses no write');
  assert.ok(Number(mem.used_memory) <= max, `used_memory ${mem.used_memory} > maxmemory ${max}`);
  assert.ok(Number(stats.evicted_keys) > 0);
  // product-service still answers from the full cache, and caches again.
  for (let i = 0; i < 2; i++) {
    const res = await app.inject({ url: '/products?category=split' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().items.length, 1);
  }
  assert.ok((await cache.keys('*l:*')).length >= 1, 'the list page was cached');
  // The tokens instance is a different server: no key and no byte of the flood reached it.
  assert.equal(await tokens.get(refresh), 'family-1');
  assert.equal(await tokens.dbsize(), 1);
  assert.ok(Number((await info(tokens, 'memory')).used_memory) < tokensBefore + 1024 * 1024);
});

test('the tokens instance, filled, refuses writes (OOM) and evicts nothing; the exporter ratio behind RedisMemoryHigh passes 0.8 first', async () => {
  const max = await maxmemory(tokens);
  const refresh = `rt:${randomUUID()}`;
  await tokens.set(refresh, 'family-2', 'EX', 7 * 24 * 3600);
  const size = 4096;
  const count = Math.ceil((1.2 * max) / size);
  const failed = await flood(tokens, 'fill:', count, size);
  const mem = await info(tokens, 'memory');
  const stats = await info(tokens, 'stats');
  process.stdout.write(
    `# redis-split tokens fill: ${count} writes x ${size} B; ${failed} refused (OOM), ${stats.evicted_keys} evicted, ` +
      `used_memory ${mem.used_memory} B of maxmemory ${max} B\n`,
  );
  assert.ok(failed > 0, 'writes past maxmemory are refused');
  assert.equal(Number(stats.evicted_keys), 0);
  assert.equal(await tokens.get(refresh), 'family-2', 'the refresh token written first survived');
  await assert.rejects(tokens.set(`rt:${randomUUID()}`, 'x'.repeat(65536)), /OOM/);

  // The real redis_exporter (Debian) on this instance: the two series the alert divides.
  const exporter = spawn(
    'prometheus-redis-exporter',
    [`--redis.addr=redis://127.0.0.1:${TOKENS_PORT}`, `--web.listen-address=127.0.0.1:${EXPORTER_PORT}`],
    { stdio: 'ignore' },
  );
  procs.push(exporter);
  const text = await eventually(async () => {
    const res = await fetch(`http://127.0.0.1:${EXPORTER_PORT}/metrics`, {
      signal: AbortSignal.timeout(5000),
    });
    const body = await res.text();
    assert.match(body, /^redis_up 1$/m);
    return body;
  }, 20_000);
  const series = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  const ratio = series('redis_memory_used_bytes') / series('redis_memory_max_bytes');
  process.stdout.write(
    `# redis-split exporter: redis_memory_used_bytes / redis_memory_max_bytes = ${ratio.toFixed(3)}\n`,
  );
  assert.equal(series('redis_memory_max_bytes'), max);
  assert.ok(ratio > 0.8, `ratio ${ratio}`);
  // Cleanup for the next suite run: the instance is this test's own.
  await tokens.flushall();
});
