import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { AppError } from './errors.js';
import { isDependencyOutage } from './http.js';
import { ReplicationError } from './redis.js';
import { testApp } from './test-support.js';
import { rawHttp } from './testing.js';

function withRoutes(opts: { bodyLimit?: number } = {}) {
  const t = testApp(opts);
  t.app.post(
    '/items',
    {
      schema: {
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 20 }), qty: Type.Integer({ minimum: 1 }) },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => reply.code(201).send({ name: request.body.name, qty: request.body.qty }),
  );
  t.app.get(
    '/items/:id',
    {
      schema: {
        params: Type.Object({ id: Type.Integer() }),
        querystring: Type.Object({ n: Type.Optional(Type.Integer()) }),
      },
    },
    async (request) => ({ id: request.params.id, n: request.query.n ?? null }),
  );
  t.app.get('/boom', { schema: {} }, async () => {
    throw new Error('database password is hunter2');
  });
  t.app.get('/conflict', { schema: {} }, async () => {
    throw new AppError(409, 'EMAIL_TAKEN', 'email already registered');
  });
  return t;
}

function assertErrorShape(body: unknown, code: string) {
  const b = body as { error: { code: string; message: string; requestId: string } };
  assert.equal(b.error.code, code);
  assert.equal(typeof b.error.message, 'string');
  assert.ok(b.error.requestId.length > 0);
}

test('x-request-id is honoured when sane and generated otherwise', async () => {
  const { app } = withRoutes();
  const given = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'abc-123' } });
  assert.equal(given.headers['x-request-id'], 'abc-123');
  const evil = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'a b\u0000<script>' } });
  assert.match(String(evil.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  const none = await app.inject({ url: '/healthz' });
  assert.match(String(none.headers['x-request-id']), /^[0-9a-f-]{36}$/);
});

test('validation failures are 400 in the contract shape, never 500', async () => {
  const { app } = withRoutes();
  const cases = [
    { name: 'wrong type', payload: { name: 'x', qty: '3' } },
    { name: 'missing field', payload: { name: 'x' } },
    { name: 'extra field', payload: { name: 'x', qty: 1, admin: true } },
    { name: 'too long', payload: { name: 'x'.repeat(21), qty: 1 } },
  ];
  for (const c of cases) {
    const res = await app.inject({ method: 'POST', url: '/items', payload: c.payload });
    assert.equal(res.statusCode, 400, c.name);
    assertErrorShape(res.json(), 'VALIDATION_FAILED');
  }
  const params = await app.inject({ url: '/items/abc' });
  assert.equal(params.statusCode, 400);
  const coerced = await app.inject({ url: '/items/7?n=3' });
  assert.deepEqual(coerced.json(), { id: 7, n: 3 }, 'path and query are coerced from strings');
  const ok = await app.inject({ method: 'POST', url: '/items', payload: { name: 'x', qty: 2 } });
  assert.equal(ok.statusCode, 201);
});

test('malformed JSON is 400, a wrong media type 415, an oversized body 413', async () => {
  const { app } = withRoutes({ bodyLimit: 2048 });
  const post = (contentType: string, payload: string) =>
    app.inject({ method: 'POST', url: '/items', headers: { 'content-type': contentType }, payload });
  const bad = await post('application/json', '{"name": "x", ');
  assert.equal(bad.statusCode, 400);
  assertErrorShape(bad.json(), 'INVALID_JSON');
  const media = await post('application/xml', '<x/>');
  assert.equal(media.statusCode, 415);
  assertErrorShape(media.json(), 'UNSUPPORTED_MEDIA_TYPE');
  const big = await app.inject({
    method: 'POST',
    url: '/items',
    payload: { name: 'x', qty: 1, pad: 'y'.repeat(5000) },
  });
  assert.equal(big.statusCode, 413);
  assertErrorShape(big.json(), 'PAYLOAD_TOO_LARGE');
});

test('unknown routes are a JSON 404; domain errors keep their status and code', async () => {
  const { app } = withRoutes();
  const nf = await app.inject({ url: '/nope?x=1' });
  assert.equal(nf.statusCode, 404);
  assertErrorShape(nf.json(), 'NOT_FOUND');
  const conflict = await app.inject({ url: '/conflict' });
  assert.equal(conflict.statusCode, 409);
  assertErrorShape(conflict.json(), 'EMAIL_TAKEN');
});

test('an unexpected error is a 500 that leaks nothing and is logged', async () => {
  const { app, lines } = withRoutes();
  const res = await app.inject({ url: '/boom' });
  assert.equal(res.statusCode, 500);
  assertErrorShape(res.json(), 'INTERNAL');
  assert.ok(!res.body.includes('hunter2'));
  assert.ok(lines().some((l) => l.msg === 'unhandled error' && l.level === 'error'));
});

test('/version and /healthz answer per the contract', async () => {
  const { app } = withRoutes();
  const v = await app.inject({ url: '/version' });
  const body = v.json();
  assert.equal(body.service, 'test-service');
  assert.equal(body.version, '1.2.3');
  assert.equal(body.commit, 'abc1234');
  assert.ok(!Number.isNaN(Date.parse(body.startedAt)));
  const h = await app.inject({ url: '/healthz' });
  assert.deepEqual(h.json(), { status: 'ok' });
});

class OutOfStock extends Error {}

test('the error map turns domain errors into contract errors, without a try/catch in the handler', async () => {
  const { app } = testApp({
    errors: (err) =>
      err instanceof OutOfStock
        ? {
            status: 409,
            code: 'INSUFFICIENT_STOCK',
            message: err.message,
            details: { productId: 'p1' },
            headers: { 'retry-after': '7' },
          }
        : undefined,
    routes: (scope) => {
      scope.get('/take', { schema: {} }, async () => {
        throw new OutOfStock('not enough stock');
      });
      scope.get('/other', { schema: {} }, async () => {
        throw new Error('unmapped');
      });
    },
  });
  const res = await app.inject({ url: '/take', headers: { 'x-request-id': 'r-1' } });
  assert.equal(res.statusCode, 409);
  assert.equal(res.headers['retry-after'], '7');
  assert.deepEqual(res.json(), {
    error: {
      code: 'INSUFFICIENT_STOCK',
      message: 'not enough stock',
      requestId: 'r-1',
      details: { productId: 'p1' },
    },
  });
  const other = await app.inject({ url: '/other' });
  assert.equal(other.statusCode, 500, 'what the map does not know stays a 500');
  assert.equal(other.json().error.code, 'INTERNAL');
});

test('routes and openapi options: routes are documented at /openapi.json', async () => {
  const { app } = testApp({
    openapi: { title: 'demo', description: 'a demo' },
    routes: (scope) => {
      scope.get('/things', { schema: { tags: ['things'] } }, async () => ({ ok: true }));
    },
  });
  assert.equal((await app.inject({ url: '/things' })).statusCode, 200);
  const doc = (await app.inject({ url: '/openapi.json' })).json();
  assert.equal(doc.info.title, 'demo');
  assert.equal(doc.info.version, '1.2.3');
  assert.ok(doc.paths['/things']?.get);
});

test('trustOneProxy: the client IP is the one the proxy appended, not one the client sent', async () => {
  const ipOf = async (trustOneProxy: boolean) => {
    const { app } = testApp({
      trustOneProxy,
      routes: (scope) => scope.get('/ip', { schema: {} }, async (request) => ({ ip: request.ip })),
    });
    const res = await app.inject({
      url: '/ip',
      remoteAddress: '10.0.0.2',
      headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.9' },
    });
    return res.json().ip;
  };
  assert.equal(await ipOf(true), '203.0.113.9');
  assert.equal(await ipOf(false), '10.0.0.2');
});

test('errors of a datastore failing over are outages (503), other database errors are not', () => {
  const pg = (code: string) => Object.assign(new Error('pg'), { code });
  for (const e of [
    pg('57P01'), // terminating connection due to administrator command
    pg('57P03'), // the database system is starting up / in recovery
    pg('25006'), // read-only transaction: a node that is no longer the primary
    pg('08006'), // connection failure
    new Error('NOREPLICAS Not enough good replicas to write.'),
    new Error("READONLY You can't write against a read only replica."),
    new ReplicationError(1, 0),
    // node-postgres, a pooled client whose connection was terminated (the fault suite's 500)
    new Error('Client has encountered a connection error and is not queryable'),
  ])
    assert.equal(isDependencyOutage(e), true, String((e as { code?: string }).code ?? e.message));
  for (const e of [pg('23505'), pg('22P02'), new Error('boom'), new Error('ERR wrong number of arguments')])
    assert.equal(isDependencyOutage(e), false, e.message);
});

test('an absolute-form request target (GET https://host/path) is a 400 in the error shape, not a 500', async () => {
  const { app } = testApp({
    routes: (scope) => scope.get('/things', { schema: {} }, async () => ({ ok: true })),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const { port } = app.server.address() as import('node:net').AddressInfo;
    const raw = await rawHttp(
      port,
      'GET https://shop.example/things HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n',
    );
    assert.match(raw, /^HTTP\/1\.1 400 /);
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
    assert.equal(body.error.code, 'BAD_REQUEST');
    assert.ok(body.error.requestId);
  } finally {
    await app.close();
  }
});

test('errors Fastify answers before routing (bad percent-escape, over-long parameter) are in the error shape', async () => {
  const { app } = testApp({
    routes: (scope) =>
      scope.get('/things/:id', { schema: {} }, async (request) => ({
        id: (request.params as { id: string }).id,
      })),
  });
  for (const url of ['/things/%zz', '/things/%C0%AF', `/things/${'a'.repeat(300)}`]) {
    const res = await app.inject({ url });
    assert.equal(res.statusCode, 400, url);
    assert.equal(res.json().error.code, 'BAD_REQUEST', url);
    assert.ok(res.json().error.requestId);
    assert.ok(res.headers['x-request-id']);
  }
});

test('draining: every answer closes its keep-alive connection, so the server can close under traffic', async () => {
  const { app, health } = testApp({
    routes: (scope) => scope.get('/things', { schema: {} }, async () => ({ ok: true })),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const { port } = app.server.address() as import('node:net').AddressInfo;
    // The head of one answer on a keep-alive connection (the connection is then dropped).
    const get = (path: string) =>
      new Promise<string>((resolve, reject) => {
        let head = '';
        const socket = connect(port, '127.0.0.1', () =>
          socket.write(`GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\n\r\n`),
        );
        socket.setEncoding('utf8').on('error', reject);
        socket.on('data', (chunk) => {
          head += chunk;
          if (!head.includes('\r\n\r\n')) return;
          socket.destroy();
          resolve(head.slice(0, head.indexOf('\r\n\r\n') + 2));
        });
      });
    assert.match(await get('/things'), /\r\nconnection: keep-alive\r\n/i);
    health.startShutdown();
    for (const path of ['/things', '/nowhere', '/readyz'])
      assert.match(await get(path), /\r\nconnection: close\r\n/i);
  } finally {
    await app.close();
  }
});
