/**
 * The whole journey through the gateway only, with all five services as real processes:
 * register → login → browse and search → order → order visible → notification visible →
 * cancel → stock restored; plus trace continuity across HTTP hops and the broker.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { eventually } from '@mdp/platform/testing';
import { startOtlpReceiver } from './otlp-receiver.js';
import { type Stack, startStack } from './stack.js';

describe('the shop end to end, through the gateway', { timeout: 180_000 }, () => {
  let stack: Stack;
  let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let api: (path: string, init?: RequestInit & { token?: string }) => Promise<Response>;

  before(async () => {
    otlp = await startOtlpReceiver();
    stack = await startStack({ otlpEndpoint: otlp.endpoint });
    api = (path, init = {}) => {
      const headers = new Headers(init.headers);
      if (init.token) headers.set('authorization', `Bearer ${init.token}`);
      if (init.body) headers.set('content-type', 'application/json');
      return fetch(`${stack.gateway}${path}`, { ...init, headers, signal: AbortSignal.timeout(10_000) });
    };
  });

  after(async () => {
    await stack?.stop();
    await otlp?.close();
  });

  const json = async <T = Record<string, unknown>>(res: Response, status: number): Promise<T> => {
    const text = await res.text();
    assert.equal(res.status, status, text);
    return JSON.parse(text) as T;
  };

  async function signUp() {
    const email = `e2e-${randomUUID()}@example.test`;
    const password = `pw-${randomBytes(9).toString('base64url')}`;
    const user = await json<{ id: string; role: string }>(
      await api('/api/auth/register', {
        method: 'POST',
        body: JSON.stringify({ email, password, name: 'Eve' }),
      }),
      201,
    );
    assert.equal(user.role, 'customer');
    const login = await json<{ accessToken: string }>(
      await api('/api/auth/login', { method: 'POST', body: JSON.stringify({ email, password }) }),
      200,
    );
    return { user, token: login.accessToken };
  }

  test('register → login → browse/search → order → visible → notified → cancel → stock restored', async () => {
    const { token } = await signUp();

    const page = await json<{
      items: { id: string; name: string; stock: number }[];
      nextCursor: string | null;
    }>(await api('/api/products?limit=5'), 200);
    assert.equal(page.items.length, 5);
    assert.ok(page.nextCursor);
    const next = await json<{ items: { id: string }[] }>(
      await api(`/api/products?limit=5&cursor=${page.nextCursor}`),
      200,
    );
    assert.ok(next.items.every((p) => !page.items.some((q) => q.id === p.id)));
    const found = await json<{ items: { id: string; name: string }[] }>(
      await api('/api/products?q=keyboard'),
      200,
    );
    assert.deepEqual(
      found.items.map((p) => p.name),
      ['Mechanical keyboard'],
    );
    const byCategory = await json<{ items: { category: string }[] }>(
      await api('/api/products?category=audio'),
      200,
    );
    assert.ok(byCategory.items.length >= 1 && byCategory.items.every((p) => p.category === 'audio'));
    const productId = found.items[0]?.id as string;
    const before = await json<{ stock: number; price: { amount: number; currency: string } }>(
      await api(`/api/products/${productId}`),
      200,
    );

    const key = randomUUID();
    const placeOrder = () =>
      api('/api/orders', {
        method: 'POST',
        token,
        headers: { 'idempotency-key': key },
        body: JSON.stringify({ items: [{ productId, quantity: 2 }] }),
      });
    const order = await json<{ id: string; status: string; total: { amount: number; currency: string } }>(
      await placeOrder(),
      201,
    );
    assert.equal(order.status, 'confirmed');
    assert.deepEqual(order.total, { amount: before.price.amount * 2, currency: before.price.currency });
    const replay = await json<{ id: string }>(await placeOrder(), 201);
    assert.equal(replay.id, order.id, 'Idempotency-Key replay returns the first order');
    assert.equal(
      (await json<{ stock: number }>(await api(`/api/products/${productId}`), 200)).stock,
      before.stock - 2,
    );

    const mine = await json<{ items: { id: string }[] }>(await api('/api/orders', { token }), 200);
    assert.deepEqual(
      mine.items.map((o) => o.id),
      [order.id],
    );
    await json(await api(`/api/orders/${order.id}`, { token }), 200);
    const stranger = await signUp();
    assert.equal((await api(`/api/orders/${order.id}`, { token: stranger.token })).status, 404);
    assert.equal((await api('/api/orders')).status, 401);

    const notifications = async () =>
      (
        await json<{ items: { type: string; channel: string; status: string }[] }>(
          await api('/api/notifications', { token }),
          200,
        )
      ).items;
    await eventually(
      async () => {
        const types = (await notifications()).map((n) => n.type);
        return types.includes('welcome') && types.includes('order_confirmation');
      },
      15_000,
      200,
    );

    const cancelled = await json<{ status: string }>(
      await api(`/api/orders/${order.id}/cancel`, { method: 'POST', token }),
      200,
    );
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(
      (await json<{ stock: number }>(await api(`/api/products/${productId}`), 200)).stock,
      before.stock,
    );
    await eventually(
      async () => (await notifications()).some((n) => n.type === 'order_cancellation'),
      15_000,
      200,
    );
    const all = await notifications();
    assert.ok(all.every((n) => n.status === 'sent' && n.channel === 'log'));
    // Someone else sees only their own (their welcome), never this user's orders.
    const theirs = await json<{ items: { type: string }[] }>(
      await api('/api/notifications', { token: stranger.token }),
      200,
    );
    assert.ok(theirs.items.every((n) => n.type === 'welcome'));
  });

  test('one order request is one trace: gateway → order-service → product-service, and the consume span', async () => {
    const { token } = await signUp();
    const products = await json<{ items: { id: string }[] }>(
      await api('/api/products?category=accessories'),
      200,
    );
    const productId = products.items[0]?.id as string;
    // The client starts the trace, so the test knows its id.
    const traceId = randomBytes(16).toString('hex');
    const res = await api('/api/orders', {
      method: 'POST',
      token,
      headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
      body: JSON.stringify({ items: [{ productId, quantity: 1 }] }),
    });
    await json(res, 201);
    const inTrace = () => otlp.spans.filter((s) => s.traceId === traceId);
    await eventually(
      () => {
        const services = new Set(inTrace().map((s) => s.service));
        return (
          ['api-gateway', 'order-service', 'product-service', 'notification-service'].every((s) =>
            services.has(s),
          ) && inTrace().some((s) => s.service === 'notification-service' && s.kind === 5)
        );
      },
      20_000,
      250,
    ).catch((err) => {
      const seen = inTrace().map((s) => `${s.service}:${s.kind}:${s.name}`);
      throw new Error(`${err.message}; spans in the trace: ${JSON.stringify(seen)}`);
    });
    const spans = inTrace();
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    // Every span of the trace hangs off another span of the same trace (or the client's root).
    const orphans = spans.filter((s) => s.parentSpanId && !byId.has(s.parentSpanId));
    assert.ok(
      orphans.length <= 1,
      `one root only: ${JSON.stringify(orphans.map((s) => `${s.service}:${s.name}`))}`,
    );
    // The consume span descends from the order request.
    const consume = spans.find((s) => s.service === 'notification-service' && s.kind === 5);
    const ancestors: string[] = [];
    for (let s = consume; s?.parentSpanId; s = byId.get(s.parentSpanId))
      ancestors.push(byId.get(s.parentSpanId)?.service ?? '?');
    assert.ok(ancestors.includes('order-service'), `consume span's ancestors: ${ancestors.join(' < ')}`);
    assert.ok(ancestors.includes('api-gateway'), `consume span's ancestors: ${ancestors.join(' < ')}`);
    const productServer = spans.find((s) => s.service === 'product-service' && s.kind === 2);
    assert.ok(productServer, 'product-service served the reservation inside the trace');
  });
});
