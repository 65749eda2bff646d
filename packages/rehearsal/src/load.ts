/**
 * The rehearsal's load: autocannon through the production gateway at a fixed overall rate, with a
 * bound on the number of requests (it stops by itself at the bound, or when the rehearsal stops
 * it). Each connection is one signed-in customer (the gateway limits requests per user), so:
 *
 *  - `orders` (order-service under test): place an order of one item, cancel it (the stock comes
 *    back), list the customer's orders twice; a failed placement is followed by a list instead
 *    of the cancel;
 *  - `users` (user-service under test): read the signed-in user twice, refresh the tokens (the
 *    new pair replaces the old one; a failed refresh keeps the old, still valid, pair).
 *
 * A failed request is one without the expected status (a 5xx, a 4xx, a timeout, a connection
 * error): what a customer would have seen fail.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { bearer, createApiClient } from '@mdp/api-client';
import autocannon from 'autocannon';

export type LoadKind = 'orders' | 'users';

export interface LoadFigures {
  requests: number;
  failed: number;
  /** Count per status ("error": no response: a connection error or a 10 s timeout). */
  statuses: Record<string, number>;
  /** The bound was reached before the rehearsal ended. */
  capped: boolean;
}

export interface Load {
  figures(): LoadFigures;
  stop(): Promise<LoadFigures>;
}

interface Customer {
  access: string;
  refresh: string;
}

type Req = autocannon.Request;
interface Ctx {
  customer?: Customer;
  orderId?: string;
}

export async function startLoad(opts: {
  gateway: string;
  kind: LoadKind;
  rate: number;
  maxRequests: number;
  customers: number;
}): Promise<Load> {
  const api = createApiClient({ baseUrl: opts.gateway, timeoutMs: 15_000 });
  const customers: Customer[] = await Promise.all(
    Array.from({ length: opts.customers }, async () => {
      const email = `rehearsal-${randomUUID()}@rehearsal.invalid`;
      const password = `pw-${randomBytes(12).toString('base64url')}`;
      const reg = await api.POST('/api/auth/register', { body: { email, password, name: 'Rehearsal' } });
      if (reg.response.status !== 201) throw new Error(`load: register answered ${reg.response.status}`);
      const login = await api.POST('/api/auth/login', { body: { email, password } });
      if (!login.data) throw new Error(`load: login answered ${login.response.status}`);
      return { access: login.data.accessToken, refresh: login.data.refreshToken };
    }),
  );
  let productId = '';
  if (opts.kind === 'orders') {
    const page = await api.GET('/api/products', { params: { query: { limit: 50 } } });
    const p = page.data?.items.filter((x) => x.stock > 0).sort((a, b) => b.stock - a.stock)[0];
    if (!p) throw new Error('load: no product in stock');
    productId = p.id;
  }

  let next = 0;
  const customerOf = (ctx: Ctx): Customer => {
    ctx.customer ??= customers[next++ % customers.length] as Customer;
    return ctx.customer;
  };
  const signed = (req: Req, ctx: Ctx, extra: Record<string, string> = {}): Req =>
    ({
      ...req,
      headers: { ...req.headers, ...bearer(customerOf(ctx).access).headers, ...extra },
    }) as Req;
  const json = { 'content-type': 'application/json' };
  const statuses: Record<string, number> = {};
  let requests = 0;
  let failed = 0;
  const count = (status: string, ok: boolean) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
    requests++;
    if (!ok) failed++;
  };
  const sequences: Record<LoadKind, Req[]> = {
    orders: [
      {
        method: 'POST',
        path: '/api/orders',
        setupRequest: (req, context) => {
          const ctx = context as Ctx;
          ctx.orderId = undefined;
          return {
            ...signed(req, ctx, { ...json, 'idempotency-key': randomUUID() }),
            body: JSON.stringify({ items: [{ productId, quantity: 1 }] }),
          } as Req;
        },
        onResponse: (status, body, context) => {
          if (status !== 201) return;
          try {
            (context as Ctx).orderId = (JSON.parse(body) as { id: string }).id;
          } catch {
            // counted by its status
          }
        },
      },
      {
        method: 'POST',
        path: '/api/orders/x/cancel',
        setupRequest: (req, context) => {
          const ctx = context as Ctx;
          if (!ctx.orderId) return { ...signed(req, ctx), method: 'GET', path: '/api/orders?limit=5' } as Req;
          return { ...signed(req, ctx), path: `/api/orders/${ctx.orderId}/cancel` } as Req;
        },
      },
      // Reads are cheaper: more requests per second reach order-service on two cores.
      {
        method: 'GET',
        path: '/api/orders?limit=5',
        setupRequest: (req, context) => signed(req, context as Ctx),
      },
      {
        method: 'GET',
        path: '/api/orders?limit=5',
        setupRequest: (req, context) => signed(req, context as Ctx),
      },
    ],
    users: [
      { method: 'GET', path: '/api/users/me', setupRequest: (req, context) => signed(req, context as Ctx) },
      { method: 'GET', path: '/api/users/me', setupRequest: (req, context) => signed(req, context as Ctx) },
      {
        method: 'POST',
        path: '/api/auth/refresh',
        setupRequest: (req, context) => {
          const c = customerOf(context as Ctx);
          return {
            ...req,
            headers: { ...req.headers, ...json },
            body: JSON.stringify({ refreshToken: c.refresh }),
          } as Req;
        },
        onResponse: (status, body, context) => {
          if (status !== 200) return;
          try {
            const t = JSON.parse(body) as { accessToken: string; refreshToken: string };
            const c = customerOf(context as Ctx);
            c.access = t.accessToken;
            c.refresh = t.refreshToken;
          } catch {
            // counted by its status
          }
        },
      },
    ],
  };
  // Without a callback autocannon returns its instance (an event emitter with stop()), thenable.
  const instance = autocannon({
    url: opts.gateway,
    connections: opts.customers,
    overallRate: opts.rate,
    amount: opts.maxRequests,
    timeout: 10,
    requests: sequences[opts.kind],
  }) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>;
  instance.on('response', (_client: unknown, statusCode: number) => {
    // 200 (reads, cancel, refresh) and 201 (placed): anything else failed for the customer.
    count(String(statusCode), statusCode === 200 || statusCode === 201);
  });
  // A connection error or a timeout (10 s): no response.
  instance.on('reqError', () => count('error', false));
  let finished = false;
  const done = Promise.resolve(instance).then(() => {
    finished = true;
  });
  const figures = (): LoadFigures => ({ requests, failed, statuses: { ...statuses }, capped: finished });
  return {
    figures,
    async stop() {
      const capped = finished;
      instance.stop();
      await done;
      return { ...figures(), capped };
    },
  };
}
