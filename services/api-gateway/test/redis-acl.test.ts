/**
 * Issue 15, finding 5 (Redis): the Redis of tokens and limits gives each service its own ACL user
 * confined to its key prefix (databases/redis/acl-users, started by databases/redis/redis-start.sh
 * exactly as the StatefulSet does, on a redis-server this test owns: port 46381). The gateway and
 * user-service run their whole sign-in flow through it as their own users; neither can read or
 * write the other's keys, and neither can run FLUSHALL, KEYS or CONFIG.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createRedis } from '@mdp/platform/redis';
import { startUserService, type UserServiceHarness } from '@mdp/user-service/testing';
import { connectRedis as gatewayRedis } from '../src/adapters/redis.js';
import { type GatewayHarness, listen, startGateway } from './harness.js';

const repo = path.resolve(import.meta.dirname, '../../..');
const PORT = 46381;
const dir = mkdtempSync(path.join(tmpdir(), 'redis-acl-'));
const passwords = {
  REDIS_PASSWORD: randomBytes(12).toString('hex'),
  API_GATEWAY_REDIS_PASSWORD: randomBytes(12).toString('hex'),
  USER_SERVICE_REDIS_PASSWORD: randomBytes(12).toString('hex'),
};
const url = (user: string, password: string) => `redis://${user}:${password}@127.0.0.1:${PORT}`;
const proc = (() => {
  // The shipped redis.conf, but for its data dir (the volume); the start script as shipped.
  writeFileSync(
    path.join(dir, 'redis.conf'),
    readFileSync(path.join(repo, 'databases/redis/redis.conf'), 'utf8').replace(/^dir .*$/m, `dir ${dir}`),
  );
  return spawn(
    'sh',
    [path.join(repo, 'databases/redis/redis-start.sh'), '--port', String(PORT), '--bind', '127.0.0.1'],
    {
      env: {
        ...process.env,
        ...passwords,
        REDIS_CONF: path.join(dir, 'redis.conf'),
        REDIS_ACL_USERS: path.join(repo, 'databases/redis/acl-users'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
})();

let users: UserServiceHarness;
let gw: GatewayHarness;
let gatewayUrl: string;
let serviceClients: { disconnect(): void }[] = [];

before(async () => {
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      log += d;
      if (log.includes('Ready to accept connections')) resolve();
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`redis-start.sh exited ${code}: ${log}`)));
  });
  const userRedis = createRedis(url('user-service', passwords.USER_SERVICE_REDIS_PASSWORD), {
    keyPrefix: 'user:',
  });
  await userRedis.connect();
  users = await startUserService({ redis: userRedis });
  serviceClients = [userRedis];
  const usersUrl = await listen(users.app);
  const redis = gatewayRedis(url('api-gateway', passwords.API_GATEWAY_REDIS_PASSWORD));
  gw = await startGateway({
    publicKey: users.keys.publicKey,
    upstreams: { user: usersUrl, product: usersUrl, order: usersUrl, notification: usersUrl },
    redis,
  });
  serviceClients.push(redis);
  gatewayUrl = await listen(gw.app);
});

after(async () => {
  await gw?.close();
  await users?.close();
  for (const c of serviceClients) c.disconnect();
  proc.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('each service works as its own Redis user: register, sign in, refresh, sign out through the gateway', async () => {
  const email = `acl-${randomUUID()}@example.com`;
  const post = (p: string, body: unknown, token?: string) =>
    fetch(`${gatewayUrl}${p}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  assert.equal(
    (await post('/api/auth/register', { email, password: 'correct horse battery', name: 'A' })).status,
    201,
  );
  // A wrong password first: the login throttle counts it in user-service's Redis keys.
  assert.equal((await post('/api/auth/login', { email, password: 'wrong password!!' })).status, 401);
  const login = await post('/api/auth/login', { email, password: 'correct horse battery' });
  assert.equal(login.status, 200);
  const pair = (await login.json()) as { accessToken: string; refreshToken: string };
  const refreshed = await post('/api/auth/refresh', { refreshToken: pair.refreshToken });
  assert.equal(refreshed.status, 200);
  assert.equal((await post('/api/auth/refresh', { refreshToken: pair.refreshToken })).status, 401);
  const next = (await refreshed.json()) as { accessToken: string; refreshToken: string };
  assert.equal(
    (await post('/api/auth/logout', { refreshToken: next.refreshToken }, next.accessToken)).status,
    204,
  );

  // What landed where: the gateway's counters under gw:, user-service's keys under user:.
  const admin = createRedis(`redis://default:${passwords.REDIS_PASSWORD}@127.0.0.1:${PORT}`);
  await admin.connect();
  try {
    const keys = await admin.keys('*');
    process.stdout.write(
      `# redis-acl: ${keys.length} keys: ${[...new Set(keys.map((k) => k.split(':')[0]))].join(', ')}\n`,
    );
    assert.ok(
      keys.some((k) => k.startsWith('gw:')),
      'the gateway counted requests',
    );
    assert.ok(
      keys.some((k) => k.startsWith('user:rt:')),
      'user-service stored refresh tokens',
    );
    assert.deepEqual(
      keys.filter((k) => !k.startsWith('gw:') && !k.startsWith('user:')),
      [],
    );
  } finally {
    admin.disconnect();
  }
});

test("neither service can touch the other's keys or run admin commands", async () => {
  const as = (user: string, password: string) => createRedis(url(user, password), { timeoutMs: 5000 });
  const gateway = as('api-gateway', passwords.API_GATEWAY_REDIS_PASSWORD);
  const user = as('user-service', passwords.USER_SERVICE_REDIS_PASSWORD);
  await Promise.all([gateway.connect(), user.connect()]);
  try {
    const refused = /NOPERM/;
    await assert.rejects(gateway.get('user:rt:x'), refused);
    await assert.rejects(gateway.set('user:rt:x', '1'), refused);
    await assert.rejects(user.set('gw:limit', '0'), refused);
    await assert.rejects(user.del('gw:limit'), refused);
    for (const client of [gateway, user]) {
      await assert.rejects(client.flushall(), refused);
      await assert.rejects(client.keys('*'), refused);
      await assert.rejects(client.config('GET', 'maxmemory'), refused);
    }
    // Another service's password is no way in.
    await assert.rejects(
      gateway.call('AUTH', 'api-gateway', passwords.USER_SERVICE_REDIS_PASSWORD),
      /WRONGPASS/,
    );
  } finally {
    gateway.disconnect();
    user.disconnect();
  }
});
