/**
 * The gateway's routing table: which public /api/* paths go to which service, and who may
 * call them. Upstream paths are the public ones without `/api` (shared decision).
 */
export type UpstreamName = 'user' | 'product' | 'order' | 'notification';

export type Access = 'public' | 'signed-in' | 'admin';

export interface RouteRule {
  /** Fastify route patterns this rule owns. */
  patterns: string[];
  upstream: UpstreamName;
  /** Kill switch of this part of the public API at the edge (src/flags.ts, config/flags/flags.json). */
  featureFlag: string;
  /**
   * Also limited per client IP alone (AUTH_RATE_LIMIT_PER_MINUTE), whether or not the request
   * carries a token: a token must not turn the key into the user's, or an attacker holding many
   * accounts would multiply the budget for guessing passwords.
   */
  perIpLimit?: 'auth';
  /** Who may call `method` on `path` (path without the query). */
  access(method: string, path: string): Access;
}

const PUBLIC_AUTH = new Set(['/api/auth/register', '/api/auth/login', '/api/auth/refresh']);
const READ = new Set(['GET', 'HEAD']);

export const ROUTES: RouteRule[] = [
  {
    patterns: ['/api/auth/*'],
    upstream: 'user',
    featureFlag: 'gateway.auth',
    perIpLimit: 'auth',
    access: (method, path) => (method === 'POST' && PUBLIC_AUTH.has(path) ? 'public' : 'signed-in'),
  },
  {
    patterns: ['/api/users/*'],
    upstream: 'user',
    featureFlag: 'gateway.users',
    access: () => 'signed-in',
  },
  {
    patterns: ['/api/products', '/api/products/*'],
    upstream: 'product',
    featureFlag: 'gateway.products',
    // Catalog reads are public; writes are admin-only (product-service checks again).
    access: (method) => (READ.has(method) ? 'public' : 'admin'),
  },
  {
    patterns: ['/api/orders', '/api/orders/*'],
    upstream: 'order',
    featureFlag: 'gateway.orders',
    access: () => 'signed-in',
  },
  {
    patterns: ['/api/notifications', '/api/notifications/*'],
    upstream: 'notification',
    featureFlag: 'gateway.notifications',
    access: () => 'signed-in',
  },
];

/** The public path prefixes (upstream form) each service documents for the combined API. */
export const PUBLIC_PREFIXES: Record<UpstreamName, string[]> = {
  user: ['/auth/', '/users/'],
  product: ['/products'],
  order: ['/orders'],
  notification: ['/notifications'],
};

/** `/api/products/1?x` → `/products/1` (query handled separately). */
export function upstreamPath(url: string): string {
  const q = url.indexOf('?');
  const path = q >= 0 ? url.slice(0, q) : url;
  return path.slice('/api'.length);
}

/**
 * True for an upstream path the gateway must not forward: a dot segment (`.`, `..`), an empty
 * segment (`//`), a backslash or `;` in a segment, or a first segment `internal`, at any depth of
 * percent-decoding (an upstream or a library on the way may decode once more, and the WHATWG URL
 * parser resolves `%2e%2e` as `..`). The gateway never forwards /internal, however spelled.
 */
export function unsafeUpstreamPath(path: string): boolean {
  let p = path;
  for (let depth = 0; depth < 4; depth++) {
    const segments = p.split(/[/\\]/).slice(1);
    if (p.includes('\\') || segments[0]?.toLowerCase() === 'internal') return true;
    if (segments.some((s) => s === '' || s === '.' || s === '..' || s.includes(';'))) return true;
    let next: string;
    try {
      next = decodeURIComponent(p);
    } catch {
      return true; // malformed escapes
    }
    if (next === p) return false;
    p = next;
  }
  return true;
}

/**
 * Identity headers only the gateway may set. Any a client sends are dropped before the
 * gateway adds its own (x-user-id / x-user-role, informational: services trust the JWT).
 */
export const IDENTITY_HEADER = /^(x-user-|x-auth-|x-forwarded-user|x-remote-user)/i;
