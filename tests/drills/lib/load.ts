/**
 * Client load through the gateway, as real shoppers make it: orders (each with its own
 * Idempotency-Key, retried with the same key on a 5xx or a network error, as the contract lets
 * clients do) and refresh-token rotations. Every acknowledgement (201 order, 200 token pair) is
 * recorded with its time, so a drill can check afterwards that the data tier kept each one,
 * and measure how long no request succeeded.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sleep } from './procs.js';

export interface Shopper {
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
}

export interface AckedOrder {
  id: string;
  key: string;
  sentAt: number;
  ackAt: number;
}

export interface Outcome {
  /** When the request was sent, and when its answer (or failure) came. */
  at: number;
  doneAt: number;
  ok: boolean;
  /** HTTP status and error code of a failure (0 = no answer), for the drill's report. */
  why?: string;
}

/** Failures since `since` by cause, e.g. `503 DEPENDENCY_UNAVAILABLE: 12`. */
export function failureCauses(outcomes: Outcome[], since: number): string {
  const counts = new Map<string, number>();
  for (const o of outcomes)
    if (!o.ok && o.at >= since) counts.set(o.why ?? '?', (counts.get(o.why ?? '?') ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k}: ${n}`).join(', ') || 'none';
}

/** `503 DEPENDENCY_UNAVAILABLE`; an answer not in the contract's error shape shows its body. */
const cause = (status: number, body: Record<string, unknown>) => {
  const error = body.error as { code?: string } | string | undefined;
  const code = typeof error === 'object' ? error.code : undefined;
  return `${status} ${code ?? (status && status !== 201 && status !== 200 ? JSON.stringify(body).slice(0, 80) : '')}`.trim();
};

async function call(
  gateway: string,
  path: string,
  init: { method?: string; body?: unknown; token?: string; key?: string },
) {
  const headers: Record<string, string> = {};
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.key) headers['idempotency-key'] = init.key;
  const res = await fetch(`${gateway}${path}`, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

export async function signUp(gateway: string): Promise<Shopper> {
  const email = `drill-${randomUUID()}@example.test`;
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  const reg = await call(gateway, '/api/auth/register', {
    method: 'POST',
    body: { email, password, name: 'Drill' },
  });
  if (reg.status !== 201) throw new Error(`register: ${reg.status} ${JSON.stringify(reg.json)}`);
  return { email, password, ...(await login(gateway, email, password)) };
}

export async function login(gateway: string, email: string, password: string) {
  const res = await call(gateway, '/api/auth/login', { method: 'POST', body: { email, password } });
  if (res.status !== 200) throw new Error(`login: ${res.status} ${JSON.stringify(res.json)}`);
  return { accessToken: res.json.accessToken as string, refreshToken: res.json.refreshToken as string };
}

export interface Load {
  stop(): Promise<void>;
  outcomes: Outcome[];
}

/**
 * When the first request sent at or after `since` (ms epoch) was answered with success (a
 * request sent during the outage may wait and succeed later: its answer time counts), or undefined.
 */
export function firstSuccessAfter(outcomes: Outcome[], since: number): number | undefined {
  return outcomes.filter((o) => o.ok && o.at >= since).sort((a, b) => a.doneAt - b.doneAt)[0]?.doneAt;
}

/** Orders from `concurrency` workers until stopped; `acked` collects every 201. */
export function orderLoad(opts: {
  gateway: string;
  shoppers: Shopper[];
  productIds: string[];
  concurrency: number;
  acked: AckedOrder[];
  /** Orders sent but never acknowledged before the load stopped (in doubt). */
  unresolved: string[];
  /** A pause of each worker after an acknowledged order (ms; default none: back to back). */
  paceMs?: number;
}): Load {
  let stopping = false;
  const outcomes: Outcome[] = [];
  const worker = async (w: number) => {
    let n = 0;
    while (!stopping) {
      const shopper = opts.shoppers[(w + n++) % opts.shoppers.length] as Shopper;
      const productId = opts.productIds[n % opts.productIds.length] as string;
      const key = randomUUID();
      const firstSent = Date.now();
      for (;;) {
        const sentAt = Date.now();
        let status = 0;
        let body: Record<string, unknown> = {};
        try {
          ({ status, json: body } = await call(opts.gateway, '/api/orders', {
            method: 'POST',
            body: { items: [{ productId, quantity: 1 }] },
            token: shopper.accessToken,
            key,
          }));
        } catch {}
        outcomes.push({ at: sentAt, doneAt: Date.now(), ok: status === 201, why: cause(status, body) });
        if (status === 201) {
          opts.acked.push({ id: body.id as string, key, sentAt: firstSent, ackAt: Date.now() });
          if (opts.paceMs) await sleep(opts.paceMs);
          break;
        }
        if (status >= 400 && status < 500) break; // refused for good (e.g. stock): not acknowledged
        if (stopping) {
          opts.unresolved.push(key);
          break;
        }
        await sleep(100);
      }
    }
  };
  const running = Array.from({ length: opts.concurrency }, (_, w) => worker(w));
  return {
    outcomes,
    async stop() {
      stopping = true;
      await Promise.all(running);
    },
  };
}

/**
 * Each shopper rotates its refresh token in a loop. `acked` collects every token the service
 * handed out (a 200); a 401 after a failed call (the old token was used but its successor never
 * reached the client) means a new login, counted in `relogins`.
 */
export function refreshLoad(opts: {
  gateway: string;
  shoppers: Shopper[];
  acked: string[];
  relogins: { n: number };
}): Load {
  let stopping = false;
  const outcomes: Outcome[] = [];
  const worker = async (s: Shopper) => {
    while (!stopping) {
      const sentAt = Date.now();
      let status = 0;
      let body: Record<string, unknown> = {};
      try {
        ({ status, json: body } = await call(opts.gateway, '/api/auth/refresh', {
          method: 'POST',
          body: { refreshToken: s.refreshToken },
        }));
      } catch {}
      outcomes.push({ at: sentAt, doneAt: Date.now(), ok: status === 200, why: cause(status, body) });
      if (status === 200) {
        s.refreshToken = body.refreshToken as string;
        s.accessToken = body.accessToken as string;
        opts.acked.push(s.refreshToken);
      } else if (status === 401) {
        opts.relogins.n++;
        try {
          Object.assign(s, await login(opts.gateway, s.email, s.password));
          opts.acked.push(s.refreshToken);
        } catch {
          await sleep(100);
        }
      } else {
        await sleep(100);
      }
      await sleep(20);
    }
  };
  const running = opts.shoppers.map((s) => worker(s));
  return {
    outcomes,
    async stop() {
      stopping = true;
      await Promise.all(running);
    },
  };
}
