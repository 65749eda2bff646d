/**
 * Tracing coverage (issue 11, item 10): every public operation of the OpenAPI document and every
 * event type of the contract, each exercised once through the gateway in a trace the test starts
 * (its own traceparent), then looked up in Jaeger. An operation is covered when its trace holds
 * the gateway's server span under the test's span and a server span of the service the gateway
 * routes it to beneath it, with no span cut off from the trace; an event type is covered when the
 * trace of the request that caused it holds notification-service's consume span of that routing
 * key, descending from the publishing service's spans.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { EVENT_TYPES, EVENTS } from '@mdp/contracts/events';
import { ancestors, hasTagValue, orphans, type Trace } from './jaeger.js';

export interface Call {
  operationId: string;
  traceId: string;
  clientSpanId: string;
  /** The service the gateway routes the operation to. */
  upstream: string;
  /** Events this call publishes (consumed by notification-service in the same trace). */
  events: string[];
}

/** The gateway's routing (services/api-gateway/src/domain/routing.ts): public prefix -> service. */
export const UPSTREAM: [RegExp, string][] = [
  [/^\/api\/(auth|users)\//, 'user-service'],
  [/^\/api\/products/, 'product-service'],
  [/^\/api\/orders/, 'order-service'],
  [/^\/api\/notifications/, 'notification-service'],
];

export const upstreamOf = (path: string): string => {
  const found = UPSTREAM.find(([re]) => re.test(path));
  if (!found) throw new Error(`no upstream for ${path}`);
  return found[1];
};

interface Doc {
  paths: Record<string, Record<string, { operationId: string }>>;
}

/** Every operation of the document: operationId, method, path. */
export const documentOperations = (doc: Doc) =>
  Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ operationId: op.operationId, method, path })),
  );

/**
 * Calls every operation once, in its own trace. `admin` signs in the seeded administrator
 * (createProduct, updateProduct). The last order brings a product under product-service's
 * stock-low threshold (5), so that one trace also carries product.stock_low.
 */
export async function exerciseEveryOperation(
  gateway: string,
  doc: Doc,
  admin: { email: string; password: string },
): Promise<Call[]> {
  const calls: Call[] = [];
  const call = async (
    operationId: string,
    method: string,
    path: string,
    opts: { body?: unknown; token?: string; status: number; events?: string[] },
  ) => {
    const traceId = randomBytes(16).toString('hex');
    const clientSpanId = randomBytes(8).toString('hex');
    const headers: Record<string, string> = { traceparent: `00-${traceId}-${clientSpanId}-01` };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const res = await fetch(`${gateway}${path}`, {
      method,
      headers,
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    assert.equal(res.status, opts.status, `${operationId} ${method} ${path}: ${text}`);
    const template = documentOperations(doc).find((o) => o.operationId === operationId);
    assert.ok(template, `${operationId} is in the document`);
    calls.push({
      operationId,
      traceId,
      clientSpanId,
      upstream: upstreamOf(template.path),
      events: opts.events ?? [],
    });
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  };

  const email = `cov-${randomUUID()}@example.test`;
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  await call('register', 'POST', '/api/auth/register', {
    body: { email, password, name: 'Cov' },
    status: 201,
    events: ['user.registered'],
  });
  const login = await call('login', 'POST', '/api/auth/login', { body: { email, password }, status: 200 });
  const refreshed = await call('refreshTokens', 'POST', '/api/auth/refresh', {
    body: { refreshToken: login.refreshToken },
    status: 200,
  });
  const token = refreshed.accessToken as string;
  await call('getMe', 'GET', '/api/users/me', { token, status: 200 });
  await call('updateMe', 'PATCH', '/api/users/me', { token, body: { name: 'Cov Two' }, status: 200 });
  const newPassword = `pw-${randomBytes(9).toString('base64url')}`;
  await call('changePassword', 'POST', '/api/users/me/password', {
    token,
    body: { currentPassword: password, newPassword },
    status: 204,
  });
  const again = await call('login', 'POST', '/api/auth/login', {
    body: { email, password: newPassword },
    status: 200,
  });
  const userToken = again.accessToken as string;

  const adminLogin = await call('login', 'POST', '/api/auth/login', { body: admin, status: 200 });
  const adminToken = adminLogin.accessToken as string;
  const page = await call('listProducts', 'GET', '/api/products?limit=3', { status: 200 });
  const first = (page.items as { id: string }[])[0]?.id as string;
  await call('getProduct', 'GET', `/api/products/${first}`, { status: 200 });
  const created = await call('createProduct', 'POST', '/api/products', {
    token: adminToken,
    body: {
      sku: `COV-${randomBytes(4).toString('hex')}`,
      name: 'Coverage lamp',
      description: 'made by the tracing coverage test',
      category: 'accessories',
      price: { amount: 1500, currency: 'EUR' },
      stock: 20,
    },
    status: 201,
  });
  const productId = created.id as string;
  await call('updateProduct', 'PATCH', `/api/products/${productId}`, {
    token: adminToken,
    body: { stock: 7 },
    status: 200,
  });

  const order = await call('placeOrder', 'POST', '/api/orders', {
    token: userToken,
    body: { items: [{ productId: first, quantity: 1 }] },
    status: 201,
    events: ['order.created'],
  });
  await call('listOrders', 'GET', '/api/orders', { token: userToken, status: 200 });
  await call('getOrder', 'GET', `/api/orders/${order.id}`, { token: userToken, status: 200 });
  await call('cancelOrder', 'POST', `/api/orders/${order.id}/cancel`, {
    token: userToken,
    status: 200,
    events: ['order.cancelled'],
  });
  // 7 - 3 = 4, under the threshold of 5: product.stock_low, in this order's trace.
  await call('placeOrder', 'POST', '/api/orders', {
    token: userToken,
    body: { items: [{ productId, quantity: 3 }] },
    status: 201,
    events: ['order.created', 'product.stock_low'],
  });
  await call('listNotifications', 'GET', '/api/notifications', { token: userToken, status: 200 });
  await call('logout', 'POST', '/api/auth/logout', {
    token: userToken,
    body: { refreshToken: again.refreshToken },
    status: 204,
  });
  return calls;
}

export interface Verdict {
  call: Call;
  trace?: Trace;
  /** Empty when the operation (and its events) produced connected spans. */
  problems: string[];
  /** The event types whose consume span is connected in this trace. */
  eventsConnected: string[];
}

/** What is wrong with one call's trace (nothing = covered). */
export function judge(call: Call, trace: Trace | undefined): Verdict {
  const problems: string[] = [];
  const eventsConnected: string[] = [];
  if (!trace) return { call, problems: ['no trace in Jaeger'], eventsConnected };
  const gw = trace.spans.find(
    (s) =>
      s.service === 'api-gateway' &&
      s.kind === 'server' &&
      s.references?.some((r) => r.spanID === call.clientSpanId),
  );
  if (!gw) problems.push("no api-gateway server span under the client's span");
  const upstream = trace.spans.find(
    (s) => s.service === call.upstream && s.kind === 'server' && ancestors(trace, s).some((a) => a === gw),
  );
  if (!upstream) problems.push(`no ${call.upstream} server span beneath the gateway's`);
  const cut = orphans(trace, call.clientSpanId);
  if (cut.length)
    problems.push(
      `spans cut off from the trace: ${cut.map((s) => `${s.service}:${s.operationName}`).join(', ')}`,
    );
  for (const type of call.events) {
    const consume = trace.spans.find(
      (s) => s.service === 'notification-service' && s.kind === 'consumer' && hasTagValue(s, type),
    );
    const publisher = EVENTS[type as keyof typeof EVENTS].source;
    if (!consume) problems.push(`no notification-service consume span of ${type}`);
    else if (!ancestors(trace, consume).some((a) => a.service === publisher))
      problems.push(`${type}: the consume span does not descend from ${publisher}`);
    else eventsConnected.push(type);
  }
  return { call, trace, problems, eventsConnected };
}

export { EVENT_TYPES };
