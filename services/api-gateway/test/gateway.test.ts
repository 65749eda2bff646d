import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateSigningKeys, signAccessToken } from '@mdp/platform/auth';
import { eventually, rawHttp } from '@mdp/platform/testing';
import { startUserService, type UserServiceHarness } from '@mdp/user-service/testing';
import {
  deadUrl,
  type GatewayHarness,
  listen,
  type Seen,
  startCatalogUpstream,
  startGateway,
} from './harness.js';

type Res = { statusCode: number; json(): unknown; headers: Record<string, unknown>; body: string };
const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function expectError(res: Res, status: number, code?: string) {
  assert.equal(res.statusCode, status, `expected ${status}, got ${res.statusCode}: ${res.body}`);
  const body = res.json() as { error: { code: string; message: string; requestId: string } };
  assert.equal(typeof body.error.code, 'string');
  assert.equal(typeof body.error.message, 'string');
  assert.equal(body.error.requestId, res.headers['x-request-id']);
  if (code) assert.equal(body.error.code, code);
  return body;
}

describe('api-gateway in front of the real user-service and a catalog upstream', () => {
  let users: UserServiceHarness;
  let catalog: Awaited<ReturnType<typeof startCatalogUpstream>>;
  let gw: GatewayHarness & { dropRedis(): Promise<void> };
  let customerToken: string;
  let customerId: string;
  let adminToken: string;
  let refreshToken: string;
  const last = (): Seen => {
    const s = catalog.seen.at(-1);
    assert.ok(s, 'upstream saw nothing');
    return s;
  };

  before(async () => {
    users = await startUserService();
    const usersUrl = await listen(users.app);
    catalog = await startCatalogUpstream(users.keys.publicKey);
    gw = await startGateway({
      publicKey: users.keys.publicKey,
      upstreams: {
        user: usersUrl,
        product: catalog.url,
        order: await deadUrl(),
        notification: await deadUrl(),
      },
      bodyLimit: 16 * 1024,
      corsOrigins: ['https://shop.example.com'],
      trustProxy: true,
    });
    const email = `gw-${Date.now()}@example.com`;
    const reg = await gw.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email, password: 'longenough1', name: 'Gate Way' },
    });
    assert.equal(reg.statusCode, 201, reg.body);
    customerId = reg.json().id;
    const login = await gw.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email, password: 'longenough1' },
    });
    assert.equal(login.statusCode, 200, login.body);
    customerToken = login.json().accessToken;
    refreshToken = login.json().refreshToken;
    adminToken = (await signAccessToken({ id: 'admin-1', role: 'admin' }, users.keys.privateKey)).token;
  });

  after(async () => {
    await gw?.close();
    await gw?.dropRedis();
    await catalog?.app.close();
    await users?.app.close();
    await users?.close();
  });

  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

  it('routes the auth flow to user-service: refresh rotates, users/me answers, logout revokes', async () => {
    const me = await gw.app.inject({ url: '/api/users/me', headers: bearer(customerToken) });
    assert.equal(me.statusCode, 200, me.body);
    assert.equal(me.json().id, customerId);
    const refreshed = await gw.app.inject({
      method: 'POST',
      url: '/api/auth/refresh',
      payload: { refreshToken },
    });
    assert.equal(refreshed.statusCode, 200);
    const next = refreshed.json().refreshToken;
    // Replay of the rotated token through the gateway: refused, and the family revoked.
    expectError(
      await gw.app.inject({ method: 'POST', url: '/api/auth/refresh', payload: { refreshToken } }),
      401,
    );
    expectError(
      await gw.app.inject({ method: 'POST', url: '/api/auth/refresh', payload: { refreshToken: next } }),
      401,
    );
    const patched = await gw.app.inject({
      method: 'PATCH',
      url: '/api/users/me',
      headers: bearer(customerToken),
      payload: { name: 'Renamed' },
    });
    assert.equal(patched.json().name, 'Renamed');
    const logout = await gw.app.inject({
      method: 'POST',
      url: '/api/auth/logout',
      headers: bearer(customerToken),
      payload: { refreshToken: next },
    });
    assert.equal(logout.statusCode, 204);
  });

  it('public routes need no token; the rest answer 401 at the gateway without reaching upstream', async () => {
    assert.equal((await gw.app.inject({ url: '/api/products?q=mug' })).statusCode, 200);
    assert.equal((await gw.app.inject({ url: '/api/products/p1' })).statusCode, 200);
    const before = catalog.seen.length;
    for (const [method, url] of [
      ['GET', '/api/users/me'],
      ['POST', '/api/auth/logout'],
      ['GET', '/api/orders'],
      ['POST', '/api/orders'],
      ['GET', '/api/notifications'],
      ['POST', '/api/products'],
    ] as const) {
      const res = await gw.app.inject({ method, url, payload: method === 'POST' ? {} : undefined });
      expectError(res, 401, 'UNAUTHORIZED');
      assert.match(String(res.headers['www-authenticate']), /^Bearer/);
    }
    assert.equal(catalog.seen.length, before);
  });

  it('refuses tampered, expired, foreign-key and alg:none tokens on protected routes', async () => {
    const [h, p, s] = customerToken.split('.');
    const claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString());
    const tampered = `${h}.${b64url({ ...claims, role: 'admin' })}.${s}`;
    const expired = (
      await signAccessToken({ id: customerId, role: 'customer' }, users.keys.privateKey, {
        now: Date.now() - 3600_000,
      })
    ).token;
    const foreign = (
      await signAccessToken({ id: customerId, role: 'admin' }, (await generateSigningKeys()).privateKey)
    ).token;
    const none = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ ...claims, role: 'admin' })}.`;
    for (const token of [tampered, expired, foreign, none, 'garbage']) {
      expectError(await gw.app.inject({ url: '/api/users/me', headers: bearer(token) }), 401, 'UNAUTHORIZED');
      expectError(
        await gw.app.inject({
          method: 'POST',
          url: '/api/products',
          headers: bearer(token),
          payload: { name: 'x' },
        }),
        401,
      );
    }
    // On a public route a bad token is ignored: the request goes on, anonymous.
    const pub = await gw.app.inject({
      url: '/api/products',
      headers: { ...bearer(tampered), 'x-user-id': 'evil' },
    });
    assert.equal(pub.statusCode, 200);
    assert.equal(last().headers['x-user-id'], undefined);
  });

  it('strips identity headers a client sends and sets its own from the verified token', async () => {
    const res = await gw.app.inject({
      url: '/api/products/p1',
      headers: {
        ...bearer(customerToken),
        'x-user-id': 'admin-1',
        'x-user-role': 'admin',
        'x-user-email': 'boss@example.com',
        'x-forwarded-user': 'admin',
      },
    });
    assert.equal(res.statusCode, 200);
    const seen = last();
    assert.equal(seen.headers['x-user-id'], customerId);
    assert.equal(seen.headers['x-user-role'], 'customer');
    assert.equal(seen.headers['x-user-email'], undefined);
    assert.equal(seen.headers['x-forwarded-user'], undefined);
    const anon = await gw.app.inject({
      url: '/api/products',
      headers: { 'x-user-id': 'admin-1', 'x-user-role': 'admin' },
    });
    assert.equal(anon.statusCode, 200);
    assert.equal(last().headers['x-user-id'], undefined);
    assert.equal(last().headers['x-user-role'], undefined);
  });

  it('a customer on an admin route: 403 at the gateway, and 403 from the service when called directly', async () => {
    const viaGateway = await gw.app.inject({
      method: 'POST',
      url: '/api/products',
      headers: { ...bearer(customerToken), 'x-user-role': 'admin' },
      payload: { name: 'Teapot' },
    });
    expectError(viaGateway, 403, 'FORBIDDEN');
    // Defence in depth: the service trusts only the JWT, not a spoofed role header.
    const direct = await fetch(`${catalog.url}/products`, {
      method: 'POST',
      headers: { ...bearer(customerToken), 'x-user-role': 'admin', 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Teapot' }),
    });
    assert.equal(direct.status, 403);
    assert.equal(((await direct.json()) as { error: { code: string } }).error.code, 'FORBIDDEN');
    const admin = await gw.app.inject({
      method: 'POST',
      url: '/api/products',
      headers: bearer(adminToken),
      payload: { name: 'Teapot' },
    });
    assert.equal(admin.statusCode, 201, admin.body);
    assert.deepEqual(last().body, { name: 'Teapot' });
  });

  it('forwards Authorization, x-request-id, trace context, client IP and the query; strips /api', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await gw.app.inject({
      url: '/api/products?q=blue%20mug&limit=5',
      headers: {
        ...bearer(customerToken),
        'x-request-id': 'req-gw-1',
        traceparent,
        tracestate: 'vendor=1',
        'x-forwarded-for': '203.0.113.9',
      },
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-request-id'], 'req-gw-1');
    assert.equal(res.json().q, 'blue mug');
    const seen = last();
    assert.equal(seen.url, '/products?q=blue%20mug&limit=5');
    assert.equal(seen.headers.authorization, `Bearer ${customerToken}`);
    assert.equal(seen.headers['x-request-id'], 'req-gw-1');
    assert.equal(seen.headers.traceparent, traceparent);
    assert.equal(seen.headers.tracestate, 'vendor=1');
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.9');
  });

  it('a slow upstream is a 504 after the timeout, and does not hold up other requests', async () => {
    const answered = catalog.slow.answered;
    expectError(await gw.app.inject({ url: '/api/products/slow' }), 504, 'GATEWAY_TIMEOUT');
    assert.equal(catalog.slow.answered, answered, 'the upstream never answered: the 504 is the timeout');

    // With a timeout far away, a request the upstream holds stays open while others pass.
    const patient = await startGateway({
      publicKey: users.keys.publicKey,
      upstreams: {
        user: await deadUrl(),
        product: catalog.url,
        order: await deadUrl(),
        notification: await deadUrl(),
      },
      upstreamTimeoutMs: 60_000,
    });
    try {
      const arrived = catalog.slow.arrived;
      let slowDone = false;
      const slow = patient.app.inject({ url: '/api/products/slow' }).finally(() => {
        slowDone = true;
      });
      await eventually(() => catalog.slow.arrived > arrived);
      const fast = await patient.app.inject({ url: '/api/products/p1' });
      assert.equal(fast.statusCode, 200);
      assert.equal(slowDone, false, 'the fast request did not wait for the slow one');
      catalog.slow.release();
      assert.equal((await slow).statusCode, 200);
    } finally {
      await patient.close();
      await patient.dropRedis();
    }
  });

  it('many concurrent requests to a slow upstream all end at the timeout (no queueing behind each other)', async () => {
    const before = catalog.slow.arrived;
    const results = await Promise.all(
      Array.from({ length: 20 }, () => gw.app.inject({ url: '/api/products/slow' })),
    );
    for (const r of results) expectError(r, 504, 'GATEWAY_TIMEOUT');
    // Each had its own connection: all 20 reached the upstream, none was held back behind another
    // (one queued inside the gateway would have been dropped at its timeout without being sent).
    await eventually(() => catalog.slow.arrived - before === 20);
  });

  it('an upstream that is down is a 502', async () => {
    const res = await gw.app.inject({ url: '/api/orders', headers: bearer(customerToken) });
    expectError(res, 502, 'BAD_GATEWAY');
    const n = await gw.app.inject({ url: '/api/notifications', headers: bearer(customerToken) });
    expectError(n, 502, 'BAD_GATEWAY');
  });

  it('bad input: malformed JSON, oversized bodies at the gateway; wrong types and long strings upstream', async () => {
    const malformed = await gw.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      headers: { 'content-type': 'application/json' },
      payload: '{"email": ',
    });
    expectError(malformed, 400, 'INVALID_JSON');
    const before = catalog.seen.length;
    const big = await gw.app.inject({
      method: 'POST',
      url: '/api/products',
      headers: { ...bearer(adminToken), 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'x'.repeat(64 * 1024) }),
    });
    expectError(big, 413, 'PAYLOAD_TOO_LARGE');
    assert.equal(catalog.seen.length, before);
    const wrongType = await gw.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 1, password: 2 },
    });
    expectError(wrongType, 400, 'VALIDATION_FAILED');
    const longName = await gw.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email: `long-${Date.now()}@example.com`, password: 'longenough1', name: 'n'.repeat(5000) },
    });
    expectError(longName, 400, 'VALIDATION_FAILED');
    const longProduct = await gw.app.inject({
      method: 'POST',
      url: '/api/products',
      headers: bearer(adminToken),
      payload: { name: 'x'.repeat(101) },
    });
    expectError(longProduct, 400, 'VALIDATION_FAILED');
  });

  it('unknown /api paths, internal routes and traversal are refused at the gateway', async () => {
    expectError(await gw.app.inject({ url: '/api/internal/secret', headers: bearer(adminToken) }), 404);
    expectError(await gw.app.inject({ url: '/internal/secret' }), 404);
    const traversal = await gw.app.inject({ url: '/api/products/..%2finternal%2fsecret' });
    assert.ok(traversal.statusCode >= 400 && traversal.statusCode < 500, `got ${traversal.statusCode}`);
    assert.ok(!catalog.seen.some((s) => s.url.startsWith('/internal')));
  });

  it('never forwards /internal: dot segments, encoded dots and slashes, doubled slashes, over raw HTTP too', async () => {
    const targets = [
      '/api/products/../internal/reservations',
      '/api/products/%2e%2e/internal/reservations',
      '/api/products/%2E%2E/internal/reservations',
      '/api/products/.%2e/internal/reservations',
      '/api/products/x/../../internal/reservations',
      '/api/products/%2e%2e%2finternal%2freservations',
      '/api/products/..%5cinternal%5creservations',
      '/api/products/..;/internal/reservations',
      '/api/orders/../products/../internal/reservations',
      '/api//internal/reservations',
      '/api/products/./../internal/reservations',
      '/api/products/%252e%252e/internal/reservations',
    ];
    const before = catalog.arrived.length;
    for (const target of targets)
      for (const method of ['GET', 'POST']) {
        const res = await gw.app.inject({
          method,
          url: target,
          headers: bearer(adminToken),
          payload: method === 'POST' ? {} : undefined,
        });
        assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${method} ${target}: ${res.statusCode}`);
      }
    // Raw request targets, exactly as written (no client-side URL normalisation).
    const url = await listen(gw.app);
    const port = Number(new URL(url).port);
    for (const target of targets) {
      const raw = await rawHttp(
        port,
        `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
      );
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);
      assert.ok(status >= 400 && status < 500, `raw POST ${target}: ${raw.split('\r\n')[0]}`);
    }
    // Nothing of these reached the upstream at all, not even as a 404 there.
    assert.deepEqual(catalog.arrived.slice(before), []);
  });

  it('sets security headers and answers CORS only for configured origins', async () => {
    const res = await gw.app.inject({
      url: '/api/products',
      headers: { origin: 'https://shop.example.com' },
    });
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.ok(res.headers['strict-transport-security']);
    assert.ok(res.headers['content-security-policy']);
    assert.equal(res.headers['access-control-allow-origin'], 'https://shop.example.com');
    const other = await gw.app.inject({
      url: '/api/products',
      headers: { origin: 'https://evil.example.com' },
    });
    assert.equal(other.headers['access-control-allow-origin'], undefined);
    const preflight = await gw.app.inject({
      method: 'OPTIONS',
      url: '/api/orders',
      headers: {
        origin: 'https://shop.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    assert.equal(preflight.statusCode, 204);
    assert.match(String(preflight.headers['access-control-allow-methods']), /POST/);
  });

  it('serves the combined public API at /docs from the services’ own OpenAPI documents', async () => {
    const ui = await gw.app.inject({ url: '/docs/' });
    assert.equal(ui.statusCode, 200);
    assert.match(String(ui.headers['content-type']), /text\/html/);
    const doc = (await gw.app.inject({ url: '/docs/json' })).json();
    for (const p of [
      '/api/auth/register',
      '/api/auth/login',
      '/api/auth/refresh',
      '/api/auth/logout',
      '/api/users/me',
    ])
      assert.ok(doc.paths[p], `missing ${p}`);
    assert.ok(doc.paths['/api/users/me'].patch);
    assert.ok(!Object.keys(doc.paths).some((p) => p.includes('internal') || p.includes('healthz')));
    assert.match(doc.info.description, /Not available right now: .*order-service/);
    // The gateway's part: servers, and its own answers on every operation by reference to the one error schema.
    assert.deepEqual(doc.servers, [{ url: '/', description: 'the api-gateway serving this document' }]);
    const login = doc.paths['/api/auth/login'].post;
    assert.equal(login.operationId, 'login');
    assert.deepEqual(login.security, []);
    for (const status of ['400', '429', '502', '504'])
      assert.deepEqual(
        login.responses[status]?.content['application/json'].schema,
        { $ref: '#/components/schemas/ErrorResponse' },
        status,
      );
    assert.ok(doc.components.schemas.ErrorResponse);
    assert.ok(!Object.keys(doc.components.schemas).some((k) => k.endsWith('.ErrorResponse')), 'kept once');
    assert.ok(
      doc.tags.some((t: { name: string; description?: string }) => t.name === 'auth' && t.description),
    );
  });
});
