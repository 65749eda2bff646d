/**
 * The shop journey through the gateway only: register → login → browse and search → order →
 * order visible → notification visible → cancel → stock restored. Shared by the process-level
 * end-to-end suite (tests/e2e/journey.test.ts) and the container suite (tests/containers).
 * Needs the demo catalog (product-service's seed) loaded.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { eventually } from '@mdp/platform/testing';

export type Api = (path: string, init?: RequestInit & { token?: string }) => Promise<Response>;

export function gatewayApi(gateway: string): Api {
  return (path, init = {}) => {
    const headers = new Headers(init.headers);
    if (init.token) headers.set('authorization', `Bearer ${init.token}`);
    if (init.body) headers.set('content-type', 'application/json');
    return fetch(`${gateway}${path}`, { ...init, headers, signal: AbortSignal.timeout(10_000) });
  };
}

export function journeyHelpers(api: Api) {
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
  return { json, signUp };
}

export async function shopJourney(gateway: string): Promise<void> {
  const api = gatewayApi(gateway);
  const { json, signUp } = journeyHelpers(api);
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
}
