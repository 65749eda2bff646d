/**
 * An upstream connection closed under a request, with no response (a keep-alive connection cut
 * by a process that is shutting down or gone): the gateway sends the request once more only when
 * that cannot do anything twice — a GET, or a request with an Idempotency-Key — and never a plain
 * POST. The upstream here is a raw TCP server that cuts the connections it is told to cut after
 * reading a request, and answers the others, counting every request that reached it.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { signAccessToken } from '@mdp/platform/auth';
import { Health } from '@mdp/platform/health';
import { deadUrl, type GatewayHarness, listen, startGateway } from './harness.js';

/** An HTTP/1.1 upstream that cuts the next `cut` requests (destroys the socket) and answers the rest. */
async function cuttingUpstream() {
  const state = { cut: 0, requests: 0, answered: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      // One request per read here: headers, then a body of content-length bytes.
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: *(\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        buf = buf.slice(end + 4 + length);
        state.requests++;
        if (state.cut > 0) {
          state.cut--;
          socket.destroy();
          return;
        }
        state.answered++;
        const body = JSON.stringify({ id: '0b0f4d4e-3c1f-4b55-9a34-8f64c1b2a001', status: 'confirmed' });
        socket.write(
          `HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('the gateway retries a request whose upstream connection was cut, only when that is safe', () => {
  let gw: GatewayHarness & { dropRedis(): Promise<void> };
  let upstream: Awaited<ReturnType<typeof cuttingUpstream>>;
  let auth: Record<string, string>;
  const health = new Health();

  before(async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    upstream = await cuttingUpstream();
    gw = await startGateway({
      publicKey: publicPem,
      upstreams: {
        user: await deadUrl(),
        product: await deadUrl(),
        order: upstream.url,
        notification: await deadUrl(),
      },
      health,
    });
    const { token } = await signAccessToken(
      { id: 'retry-user', role: 'customer' },
      privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    );
    auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  });

  after(async () => {
    await gw?.close();
    await gw?.dropRedis();
    await upstream?.close();
  });

  const order = (headers: Record<string, string>) =>
    gw.app.inject({
      method: 'POST',
      url: '/api/orders',
      headers: { ...auth, ...headers },
      payload: JSON.stringify({
        items: [{ productId: '0b0f4d4e-3c1f-4b55-9a34-8f64c1b2a002', quantity: 1 }],
      }),
    });

  test('a POST with an Idempotency-Key is sent again once, and answered', async () => {
    const before = { ...upstream.state };
    upstream.state.cut = 1;
    const res = await order({ 'idempotency-key': 'k-retry-1' });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(upstream.state.requests - before.requests, 2, 'the cut attempt and its retry');
  });

  test('a POST without an Idempotency-Key is not sent twice: 502 in the error shape', async () => {
    const before = { ...upstream.state };
    upstream.state.cut = 1;
    const res = await order({});
    assert.equal(res.statusCode, 502, res.body);
    assert.equal(res.json().error.code, 'BAD_GATEWAY');
    assert.equal(upstream.state.requests - before.requests, 1, 'sent once');
    upstream.state.cut = 0;
  });

  test('a GET is sent again once', async () => {
    const before = { ...upstream.state };
    upstream.state.cut = 1;
    const res = await gw.app.inject({ url: '/api/orders', headers: auth });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(upstream.state.requests - before.requests, 2);
  });

  test('only once: cut twice, the request fails with 502 after two attempts', async () => {
    const before = { ...upstream.state };
    upstream.state.cut = 2;
    const res = await order({ 'idempotency-key': 'k-retry-2' });
    assert.equal(res.statusCode, 502, res.body);
    assert.equal(upstream.state.requests - before.requests, 2);
    upstream.state.cut = 0;
  });

  test('draining, a proxied answer closes its keep-alive connection too (the upstream said nothing of it)', async () => {
    const port = Number(new URL(await listen(gw.app)).port);
    const head = (): Promise<string> =>
      new Promise((resolve, reject) => {
        let got = '';
        const socket = connect(port, '127.0.0.1', () =>
          socket.write(
            `GET /api/orders HTTP/1.1\r\nHost: t\r\nAuthorization: ${auth.authorization}\r\nConnection: keep-alive\r\n\r\n`,
          ),
        );
        socket.setEncoding('utf8').on('error', reject);
        socket.on('data', (chunk) => {
          got += chunk;
          if (!got.includes('\r\n\r\n')) return;
          socket.destroy();
          resolve(got.slice(0, got.indexOf('\r\n\r\n') + 2));
        });
      });
    assert.match(await head(), /^HTTP\/1\.1 201 [\s\S]*\r\nconnection: keep-alive\r\n/i);
    health.startShutdown();
    assert.match(await head(), /^HTTP\/1\.1 201 [\s\S]*\r\nconnection: close\r\n/i);
  });
});
