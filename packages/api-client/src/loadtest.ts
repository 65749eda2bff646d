/**
 * `npm run loadtest -- --base-url URL [--profile ci|staging] [--duration S] [--rate R] [--json]`: autocannon drives each
 * operation group of the SLO page in turn through the gateway, at R requests/s for S seconds each,
 * prints p50/p99 per group and the error rate, and exits 1 when the SLO load-test gate fails
 * (src/slo.ts), 2 on a usage error. Orders it placed are cancelled at the end. A profile names a
 * duration and rate (PROFILES: `ci` is the short run against the local stack, `staging` the
 * pre-production gate of deploy-staging.yml); --duration and --rate override it. The thresholds are
 * the SLO gate's whatever the profile.
 *
 * The gateway limits each signed-in user (or anonymous IP) to a number of requests per minute
 * (flag gateway.rate-limit-per-minute, 600 by default): the test signs up enough customers that
 * none of them exceeds 8 requests/s, and signs every request. A 429 still counts as an error.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { baseUrlArgs, line, usage } from './cli.js';
import { bearer, createApiClient } from './index.js';
import { type Group, type GroupFigures, judge, P99_TARGET_MS, type Verdict } from './slo.js';

export interface LoadTestOptions {
  baseUrl: string;
  /** Seconds per group. */
  durationS: number;
  /** Requests per second per group (over all connections). */
  rate: number;
  /** Progress lines (stderr-free: the caller decides). */
  log?: (text: string) => void;
}

export interface LoadTestResult extends Verdict {
  baseUrl: string;
  durationS: number;
  rate: number;
  groups: GroupFigures[];
  cleanup: { ordersPlaced: number; ordersCancelled: number };
}

interface Customer {
  email: string;
  password: string;
  token: string;
}

type Req = autocannon.Request;
/** Adds headers to a request (autocannon's header type is Node's IncomingHttpHeaders). */
const withHeaders = (req: Req, headers: Record<string, string>): Req =>
  ({ ...req, headers: { ...req.headers, ...headers } }) as Req;

const PER_USER_RATE = 8;

/** Named load shapes: seconds per group and requests per second per group. */
export const PROFILES = {
  ci: { durationS: 3, rate: 10 },
  staging: { durationS: 30, rate: 40 },
} as const satisfies Record<string, { durationS: number; rate: number }>;
export type ProfileName = keyof typeof PROFILES;
export const DEFAULT_SHAPE = { durationS: 10, rate: 20 };

/** The duration and rate of a run: the profile's (or the default), then any explicit option. */
export function loadShape(
  profile: string | undefined,
  over: { durationS?: number; rate?: number } = {},
): { profile: ProfileName | null; durationS: number; rate: number } {
  if (profile !== undefined && !Object.hasOwn(PROFILES, profile))
    throw new Error(`unknown profile ${profile} (${Object.keys(PROFILES).join(', ')})`);
  const base = profile ? PROFILES[profile as ProfileName] : DEFAULT_SHAPE;
  return {
    profile: (profile as ProfileName | undefined) ?? null,
    durationS: over.durationS ?? base.durationS,
    rate: over.rate ?? base.rate,
  };
}

export async function loadTest(opts: LoadTestOptions): Promise<LoadTestResult> {
  const log = opts.log ?? (() => {});
  const api = createApiClient({ baseUrl: opts.baseUrl, timeoutMs: 15_000 });

  // Customers: enough that each stays under the gateway's per-user limit.
  const count = Math.max(2, Math.ceil(opts.rate / PER_USER_RATE));
  const customers: Customer[] = [];
  for (let i = 0; i < count; i++) {
    const email = `loadtest-${randomUUID()}@loadtest.invalid`;
    const password = `pw-${randomBytes(12).toString('base64url')}`;
    const reg = await api.POST('/api/auth/register', { body: { email, password, name: 'Load test' } });
    if (reg.response.status !== 201) throw new Error(`register: HTTP ${reg.response.status}`);
    const login = await api.POST('/api/auth/login', { body: { email, password } });
    if (!login.data) throw new Error(`login: HTTP ${login.response.status}`);
    customers.push({ email, password, token: login.data.accessToken });
  }
  const page = await api.GET('/api/products', { params: { query: { limit: 100 } } });
  if (!page.data) throw new Error(`list products: HTTP ${page.response.status}`);
  const products = page.data.items;
  const inStock = products.filter((p) => p.stock > 0);
  if (!products.length || !inStock.length) throw new Error('the catalog has no product in stock');
  const searchTerm = (products[0]?.name.split(/\s+/)[0] ?? 'a').toLowerCase();
  log(`set up: ${customers.length} customers, ${products.length} products (${inStock.length} in stock)`);

  let n = 0;
  const nextCustomer = () => customers[n++ % customers.length] as Customer;
  const signed = (req: Req): Req => withHeaders(req, bearer(nextCustomer().token).headers);
  const json = { 'content-type': 'application/json' };
  const placed: { id: string; token: string }[] = [];

  const groups: Record<Group, { expected: number[]; requests: Req[] }> = {
    catalog: {
      expected: [200],
      requests: [
        { method: 'GET', path: '/api/products?limit=20', setupRequest: signed },
        {
          method: 'GET',
          path: '/api/products/x',
          setupRequest: (req) =>
            signed({ ...req, path: `/api/products/${products[n % products.length]?.id}` }),
        },
        { method: 'GET', path: `/api/products?q=${encodeURIComponent(searchTerm)}`, setupRequest: signed },
      ],
    },
    auth: {
      expected: [200],
      requests: [
        {
          method: 'POST',
          path: '/api/auth/login',
          headers: json,
          setupRequest: (req) => {
            const c = nextCustomer();
            return {
              ...withHeaders(req, bearer(c.token).headers),
              body: JSON.stringify({ email: c.email, password: c.password }),
            };
          },
        },
        { method: 'GET', path: '/api/users/me', setupRequest: signed },
      ],
    },
    orders: {
      expected: [200, 201],
      requests: [
        {
          method: 'POST',
          path: '/api/orders',
          headers: json,
          setupRequest: (req, context) => {
            const c = nextCustomer();
            (context as { token?: string }).token = c.token;
            const product = inStock[n % inStock.length];
            return {
              ...withHeaders(req, { ...bearer(c.token).headers, 'idempotency-key': randomUUID() }),
              body: JSON.stringify({ items: [{ productId: product?.id, quantity: 1 }] }),
            };
          },
          onResponse: (status, body, context) => {
            if (status !== 201) return;
            try {
              placed.push({
                id: (JSON.parse(body) as { id: string }).id,
                token: (context as { token: string }).token,
              });
            } catch {
              // counted by its status already
            }
          },
        },
        { method: 'GET', path: '/api/orders?limit=10', setupRequest: signed },
      ],
    },
    notifications: {
      expected: [200],
      requests: [{ method: 'GET', path: '/api/notifications', setupRequest: signed }],
    },
  };

  const figures: GroupFigures[] = [];
  for (const [group, spec] of Object.entries(groups) as [Group, (typeof groups)[Group]][]) {
    log(`${group}: ${opts.rate} req/s for ${opts.durationS} s`);
    const result = await autocannon({
      url: opts.baseUrl,
      connections: Math.max(1, Math.min(10, opts.rate)),
      overallRate: opts.rate,
      duration: opts.durationS,
      timeout: 10,
      requests: spec.requests,
    });
    const statuses: Record<string, number> = {};
    let responses = 0;
    let expected = 0;
    for (const [status, { count = 0 } = {}] of Object.entries(result.statusCodeStats ?? {})) {
      statuses[status] = count;
      responses += count;
      if (spec.expected.includes(Number(status))) expected += count;
    }
    // result.errors counts connection errors and timeouts (requests without a response).
    if (result.errors) statuses.transport = result.errors;
    figures.push({
      group,
      requests: responses + result.errors,
      errors: responses - expected + result.errors,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      statuses,
    });
  }

  let cancelled = 0;
  for (const o of placed) {
    const res = await api.POST('/api/orders/{id}/cancel', {
      params: { path: { id: o.id } },
      ...bearer(o.token),
    });
    if (res.response.ok) cancelled++;
  }
  const verdict = judge(figures);
  return {
    ...verdict,
    baseUrl: opts.baseUrl,
    durationS: opts.durationS,
    rate: opts.rate,
    groups: figures,
    cleanup: { ordersPlaced: placed.length, ordersCancelled: cancelled },
  };
}

function positive(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) usage(`loadtest: --${name} must be a positive number`);
  return n;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { baseUrl, values } = baseUrlArgs('loadtest', {
    duration: { type: 'string' },
    rate: { type: 'string' },
    profile: { type: 'string' },
    json: { type: 'boolean' },
  });
  let shape: ReturnType<typeof loadShape>;
  try {
    const durationS = positive('duration', values.duration);
    const rate = positive('rate', values.rate);
    shape = loadShape(typeof values.profile === 'string' ? values.profile : undefined, {
      ...(durationS ? { durationS } : {}),
      ...(rate ? { rate } : {}),
    });
  } catch (err) {
    usage(`loadtest: ${(err as Error).message}`);
  }
  process.stderr.write(
    `loadtest: profile ${shape.profile ?? '(none)'}: ${shape.durationS} s per group at ${shape.rate} req/s\n`,
  );
  const result = await loadTest({
    baseUrl,
    durationS: shape.durationS,
    rate: shape.rate,
    log: (text) => process.stderr.write(`loadtest: ${text}\n`),
  });
  line('group          requests  p50 ms  p99 ms  target  errors  statuses');
  for (const g of result.groups)
    line(
      `${g.group.padEnd(14)} ${String(g.requests).padStart(8)} ${String(g.p50Ms).padStart(7)} ${String(g.p99Ms).padStart(7)} ${String(P99_TARGET_MS[g.group]).padStart(7)} ${String(g.errors).padStart(7)}  ${JSON.stringify(g.statuses)}`,
    );
  line(`error rate ${(result.errorRate * 100).toFixed(3)} % (gate <= 0.1 %)`);
  line(result.pass ? 'SLO load-test gate: pass' : `SLO load-test gate: FAIL (${result.failures.join('; ')})`);
  if (values.json) line(JSON.stringify({ profile: shape.profile, ...result }));
  process.exit(result.pass ? 0 : 1);
}
