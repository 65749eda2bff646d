import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { signAccessToken } from '@mdp/platform/auth';
import { tempRedisPrefix } from '@mdp/platform/testing';
import { startUserService, type UserServiceHarness } from '@mdp/user-service/testing';
import { deadUrl, type GatewayHarness, listen, startGateway } from './harness.js';

/**
 * Issue 15, finding 3: /api/auth/* is limited per client IP (AUTH_RATE_LIMIT_PER_MINUTE), in
 * Redis, whether or not the request carries a bearer token: tokens of many accounts do not
 * multiply a password guesser's budget. In front of the real user-service.
 */
describe('api-gateway: per-IP limit of /api/auth/*, token or not', () => {
  const prefix = tempRedisPrefix('gwauth');
  let users: UserServiceHarness;
  let gw: GatewayHarness;
  let gwDefault: GatewayHarness;
  const tokens: string[] = [];

  before(async () => {
    users = await startUserService();
    const usersUrl = await listen(users.app);
    const dead = await deadUrl();
    const common = {
      publicKey: users.keys.publicKey,
      upstreams: { user: usersUrl, product: dead, order: dead, notification: dead },
      keyPrefix: prefix.keyPrefix,
      trustProxy: true,
    };
    gw = await startGateway({ ...common, authRateLimitPerMinute: 5 });
    gwDefault = await startGateway(common);
    for (let i = 0; i < 10; i++)
      tokens.push(
        (await signAccessToken({ id: `holder-${i}`, role: 'customer' }, users.keys.privateKey)).token,
      );
  });

  after(async () => {
    await gw?.close();
    await gwDefault?.close();
    await users?.app.close();
    await users?.close();
    await prefix.drop();
  });

  const attempt = (g: GatewayHarness, ip: string, token?: string) =>
    g.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: `nobody-${ip}@example.com`, password: 'not the password' },
      headers: { 'x-forwarded-for': ip, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });

  it('each attempt with a different account token still counts against the one IP', async () => {
    const ip = '203.0.113.10';
    for (let i = 0; i < 5; i++) {
      const res = await attempt(gw, ip, tokens[i]);
      assert.equal(res.statusCode, 401, res.body);
      assert.equal(res.headers['x-ratelimit-limit'], '5');
    }
    for (const token of [tokens[5], undefined]) {
      const limited = await attempt(gw, ip, token);
      assert.equal(limited.statusCode, 429, limited.body);
      assert.equal(limited.json().error.code, 'TOO_MANY_REQUESTS');
      assert.equal(limited.json().error.requestId, limited.headers['x-request-id']);
      const retry = Number(limited.headers['retry-after']);
      assert.ok(retry > 0 && retry <= 60, `Retry-After ${retry}`);
    }
    // Another address is not affected, and neither is registration's upstream answer.
    assert.equal((await attempt(gw, '203.0.113.11', tokens[6])).statusCode, 401);
    // The counter lives in Redis under the IP alone.
    const keys = await gw.redis.keys(`${prefix.keyPrefix}rl:*`);
    assert.ok(
      keys.some((k) => k.endsWith('auth-ip:203.0.113.10')),
      keys.join(', '),
    );
  });

  it('the default is 30 a minute (AUTH_RATE_LIMIT_PER_MINUTE)', async () => {
    const res = await attempt(gwDefault, '203.0.113.20', tokens[7]);
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['x-ratelimit-limit'], '30');
    assert.equal(res.headers['x-ratelimit-remaining'], '29');
  });

  it('other routes are not under the auth limit', async () => {
    const ip = '203.0.113.30';
    for (let i = 0; i < 5; i++) await attempt(gw, ip);
    assert.equal((await attempt(gw, ip)).statusCode, 429);
    // /api/users/me from the same address: the general (per user) limit only.
    const me = await gw.app.inject({
      url: '/api/users/me',
      headers: { 'x-forwarded-for': ip, authorization: `Bearer ${tokens[8]}` },
    });
    assert.notEqual(me.statusCode, 429, me.body);
    assert.equal(me.headers['x-ratelimit-limit'], '600');
  });
});
