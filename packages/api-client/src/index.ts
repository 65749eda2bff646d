/**
 * The typed client of the shop's public API: openapi-fetch over the types openapi-typescript
 * generated from the gateway's OpenAPI document (src/schema.ts from openapi.json).
 *
 *   const api = createApiClient({ baseUrl: 'https://shop.example' });
 *   const { data, error, response } = await api.GET('/api/products', { params: { query: { limit: 5 } } });
 *   await api.POST('/api/orders', { body: { items: [{ productId, quantity: 1 }] }, ...bearer(token) });
 */
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { components, operations, paths } from './schema.js';

export type { components, Middleware, operations, paths };
export type ApiClient = Client<paths>;
/** The error shape of every 4xx/5xx answer. */
export type ErrorResponse = components['schemas']['ErrorResponse'];

export interface ApiClientOptions {
  /** The gateway, e.g. `http://127.0.0.1:8080` (the document's paths start with /api). */
  baseUrl: string;
  /** Per-request timeout (default 10 s): every call has one. */
  timeoutMs?: number;
  /** openapi-fetch middleware (e.g. response validation in the e2e tests). */
  middleware?: Middleware[];
  /** Headers sent with every request. */
  headers?: Record<string, string>;
}

export function createApiClient(opts: ApiClientOptions): ApiClient {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const client = createClient<paths>({
    baseUrl: opts.baseUrl.replace(/\/+$/, ''),
    ...(opts.headers ? { headers: opts.headers } : {}),
    fetch: (request: Request) =>
      fetch(request, { signal: AbortSignal.any([request.signal, AbortSignal.timeout(timeoutMs)]) }),
  });
  for (const m of opts.middleware ?? []) client.use(m);
  return client;
}

/** The request option that signs a call: `api.GET('/api/orders', { ...bearer(token) })`. */
export const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
