/**
 * The shop journey through the gateway only, with the generated typed client (@mdp/api-client):
 * register → login → browse and search → order → order visible → notification visible → cancel →
 * stock restored. Shared by the process-level end-to-end suite (tests/e2e/journey.test.ts, where
 * the client validates every response against the OpenAPI document) and the container suite
 * (tests/containers). Needs the demo catalog (product-service's seed) loaded.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { type ApiClient, bearer, createApiClient } from '@mdp/api-client';
import { eventually } from '@mdp/platform/testing';

export type Api = (path: string, init?: RequestInit & { token?: string }) => Promise<Response>;

/** Raw fetch through the gateway, for what the typed client does not express (wrong inputs, headers). */
export function gatewayApi(gateway: string): Api {
  return (path, init = {}) => {
    const headers = new Headers(init.headers);
    if (init.token) headers.set('authorization', `Bearer ${init.token}`);
    if (init.body) headers.set('content-type', 'application/json');
    return fetch(`${gateway}${path}`, { ...init, headers, signal: AbortSignal.timeout(10_000) });
  };
}

/** `data` of a call that must answer `status` (the error body otherwise, in the assertion message). */
export async function expectStatus<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
  status: number,
): Promise<T> {
  const { data, error, response } = await call;
  assert.equal(response.status, status, JSON.stringify(error ?? data));
  return data as T;
}

export function journeyHelpers(client: ApiClient) {
  async function signUp() {
    const email = `e2e-${randomUUID()}@example.test`;
    const password = `pw-${randomBytes(9).toString('base64url')}`;
    const user = await expectStatus(
      client.POST('/api/auth/register', { body: { email, password, name: 'Eve' } }),
      201,
    );
    assert.equal(user.role, 'customer');
    const login = await expectStatus(client.POST('/api/auth/login', { body: { email, password } }), 200);
    return { user, token: login.accessToken };
  }
  return { signUp };
}

export async function shopJourney(gateway: string, client?: ApiClient): Promise<void> {
  const api = client ?? createApiClient({ baseUrl: gateway });
  const { signUp } = journeyHelpers(api);
  const products = (query: { q?: string; category?: string; limit?: number; cursor?: string }) =>
    expectStatus(api.GET('/api/products', { params: { query } }), 200);
  const product = (id: string) =>
    expectStatus(api.GET('/api/products/{id}', { params: { path: { id } } }), 200);
  const { token } = await signUp();
  const auth = bearer(token);

  const page = await products({ limit: 5 });
  assert.equal(page.items.length, 5);
  assert.ok(page.nextCursor);
  const next = await products({ limit: 5, cursor: page.nextCursor });
  assert.ok(next.items.every((p) => !page.items.some((q) => q.id === p.id)));
  const found = await products({ q: 'keyboard' });
  assert.deepEqual(
    found.items.map((p) => p.name),
    ['Mechanical keyboard'],
  );
  const byCategory = await products({ category: 'audio' });
  assert.ok(byCategory.items.length >= 1 && byCategory.items.every((p) => p.category === 'audio'));
  const productId = found.items[0]?.id as string;
  const before = await product(productId);

  const key = randomUUID();
  const placeOrder = () =>
    api.POST('/api/orders', {
      headers: { ...auth.headers, 'idempotency-key': key },
      body: { items: [{ productId, quantity: 2 }] },
    });
  const order = await expectStatus(placeOrder(), 201);
  assert.equal(order.status, 'confirmed');
  assert.deepEqual(order.total, { amount: before.price.amount * 2, currency: before.price.currency });
  const replay = await expectStatus(placeOrder(), 201);
  assert.equal(replay.id, order.id, 'Idempotency-Key replay returns the first order');
  assert.equal((await product(productId)).stock, before.stock - 2);

  const mine = await expectStatus(api.GET('/api/orders', auth), 200);
  assert.deepEqual(
    mine.items.map((o) => o.id),
    [order.id],
  );
  const byId = { params: { path: { id: order.id } } };
  await expectStatus(api.GET('/api/orders/{id}', { ...byId, ...auth }), 200);
  const stranger = await signUp();
  await expectStatus(api.GET('/api/orders/{id}', { ...byId, ...bearer(stranger.token) }), 404);
  await expectStatus(api.GET('/api/orders'), 401);

  const notifications = async () => (await expectStatus(api.GET('/api/notifications', auth), 200)).items;
  await eventually(
    async () => {
      const types = (await notifications()).map((n) => n.type);
      return types.includes('welcome') && types.includes('order_confirmation');
    },
    15_000,
    200,
  );

  const cancelled = await expectStatus(api.POST('/api/orders/{id}/cancel', { ...byId, ...auth }), 200);
  assert.equal(cancelled.status, 'cancelled');
  assert.equal((await product(productId)).stock, before.stock);
  await eventually(
    async () => (await notifications()).some((n) => n.type === 'order_cancellation'),
    15_000,
    200,
  );
  const all = await notifications();
  assert.ok(all.every((n) => n.status === 'sent' && n.channel === 'log'));
  // Someone else sees only their own (their welcome), never this user's orders.
  const theirs = await expectStatus(api.GET('/api/notifications', bearer(stranger.token)), 200);
  assert.ok(theirs.items.every((n) => n.type === 'welcome'));
}
