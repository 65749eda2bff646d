/**
 * `npm run smoke -- --base-url URL`: a short black-box journey through the gateway with the typed
 * client — register, sign in, list products, place an order, read it, cancel it (the stock comes
 * back), read the signed-in user. Exit 0 when every step answered as the contract says, 1
 * otherwise; the last line is a JSON summary.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { baseUrlArgs, line } from './cli.js';
import { type ApiClient, bearer, createApiClient } from './index.js';

export interface SmokeStep {
  name: string;
  status: number | null;
  ms: number;
  ok: boolean;
  detail?: string;
}

export interface SmokeResult {
  ok: boolean;
  baseUrl: string;
  steps: SmokeStep[];
  failed: string | null;
}

class StepFailed extends Error {}

export async function smoke(baseUrl: string, client?: ApiClient): Promise<SmokeResult> {
  const api = client ?? createApiClient({ baseUrl, timeoutMs: 10_000 });
  const steps: SmokeStep[] = [];

  async function step<T>(
    name: string,
    expected: number,
    call: () => Promise<{ data?: T; error?: unknown; response: Response }>,
  ): Promise<T> {
    const started = performance.now();
    let status: number | null = null;
    try {
      const { data, error, response } = await call();
      status = response.status;
      const ms = Math.round(performance.now() - started);
      const ok = status === expected && data !== undefined;
      steps.push({
        name,
        status,
        ms,
        ok,
        ...(ok ? {} : { detail: `expected ${expected}: ${JSON.stringify(error ?? data).slice(0, 300)}` }),
      });
      if (!ok) throw new StepFailed(name);
      return data as T;
    } catch (err) {
      if (!(err instanceof StepFailed))
        steps.push({
          name,
          status,
          ms: Math.round(performance.now() - started),
          ok: false,
          detail: (err as Error).message,
        });
      throw new StepFailed(name);
    }
  }

  try {
    const email = `smoke-${randomUUID()}@smoke.invalid`;
    const password = `pw-${randomBytes(12).toString('base64url')}`;
    await step('register', 201, () =>
      api.POST('/api/auth/register', { body: { email, password, name: 'Smoke test' } }),
    );
    const tokens = await step('login', 200, () => api.POST('/api/auth/login', { body: { email, password } }));
    const auth = bearer(tokens.accessToken);
    const page = await step('list products', 200, () =>
      api.GET('/api/products', { params: { query: { limit: 20 } } }),
    );
    const product = page.items.find((p) => p.stock > 0);
    if (!product) {
      steps.push({
        name: 'pick a product in stock',
        status: null,
        ms: 0,
        ok: false,
        detail: 'none in stock',
      });
      throw new StepFailed('pick a product in stock');
    }
    const order = await step('place order', 201, () =>
      api.POST('/api/orders', {
        body: { items: [{ productId: product.id, quantity: 1 }] },
        ...auth,
        headers: { ...auth.headers, 'idempotency-key': randomUUID() },
      }),
    );
    await step('read order', 200, () =>
      api.GET('/api/orders/{id}', { params: { path: { id: order.id } }, ...auth }),
    );
    await step('cancel order', 200, () =>
      api.POST('/api/orders/{id}/cancel', { params: { path: { id: order.id } }, ...auth }),
    );
    await step('read me', 200, () => api.GET('/api/users/me', auth));
    return { ok: true, baseUrl, steps, failed: null };
  } catch (err) {
    if (!(err instanceof StepFailed)) throw err;
    return { ok: false, baseUrl, steps, failed: err.message };
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { baseUrl } = baseUrlArgs('smoke', {});
  const result = await smoke(baseUrl);
  for (const s of result.steps)
    line(
      `${s.ok ? 'ok  ' : 'FAIL'} ${s.name.padEnd(16)} ${String(s.status ?? '-').padStart(3)} ${s.ms} ms${s.detail ? `  ${s.detail}` : ''}`,
    );
  line(JSON.stringify(result));
  process.exit(result.ok ? 0 : 1);
}
