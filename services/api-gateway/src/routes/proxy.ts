import { channel } from 'node:diagnostics_channel';
import { bearerToken, InvalidTokenError, type PublicKeyInput, verifyAccessToken } from '@mdp/platform/auth';
import { AppError, forbidden, notFound, unauthorized } from '@mdp/platform/errors';
import type { Flags } from '@mdp/platform/flags';
import type { HttpApp } from '@mdp/platform/http';
import { context, propagation } from '@opentelemetry/api';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import {
  IDENTITY_HEADER,
  ROUTES,
  type RouteRule,
  type UpstreamName,
  unsafeUpstreamPath,
  upstreamPath,
} from '../domain/routing.js';
import { FLAGS } from '../flags.js';

export interface ProxyOptions {
  upstreams: Record<UpstreamName, string>;
  /** False while the rate-limit store (Redis) is unreachable: requests then pass unlimited at once. */
  limiterAvailable: () => boolean;
  publicKey: PublicKeyInput;
  flags: Flags;
  timeoutMs: number;
  /** Requests per minute per client IP on the routes with `perIpLimit: 'auth'` (/api/auth/*). */
  authLimitPerMinute: number;
}

const RATE_FLAG = 'gateway.rate-limit-per-minute';
const authErrors = new WeakMap<FastifyRequest, InvalidTokenError>();
// The OpenTelemetry undici instrumentation listens here and injects the hop's traceparent itself.
const undiciRequestChannel = channel('undici:request:create');

/** Verifies a bearer token if one is given; the verdict is used by `enforce`. */
function identify(publicKey: PublicKeyInput) {
  return async (request: FastifyRequest) => {
    const header = request.headers.authorization;
    if (!header) return;
    const token = bearerToken(header);
    try {
      if (!token) throw new InvalidTokenError('malformed', 'malformed Authorization header');
      const claims = await verifyAccessToken(token, publicKey);
      request.user = { id: claims.sub, role: claims.role };
    } catch (err) {
      if (!(err instanceof InvalidTokenError)) throw err;
      authErrors.set(request, err);
    }
  };
}

/** Public routes ignore a bad token (a client may still hold an expired one); the rest need a valid one. */
function enforce(rule: RouteRule) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?', 1)[0] ?? request.url;
    const access = rule.access(request.method, path);
    if (access === 'public') return;
    if (!request.user) {
      const err = authErrors.get(request);
      reply.header(
        'www-authenticate',
        err ? 'Bearer realm="mdp", error="invalid_token"' : 'Bearer realm="mdp"',
      );
      throw err ?? unauthorized();
    }
    if (access === 'admin' && request.user.role !== 'admin') throw forbidden('requires role admin');
  };
}

function forwardHeaders(
  request: Pick<FastifyRequest, 'user' | 'id' | 'ip' | 'protocol' | 'host'>,
  headers: Record<string, string | string[] | undefined>,
) {
  for (const name of Object.keys(headers)) if (IDENTITY_HEADER.test(name)) delete headers[name];
  if (request.user) {
    headers['x-user-id'] = request.user.id;
    headers['x-user-role'] = request.user.role;
  }
  headers['x-request-id'] = String(request.id);
  headers['x-forwarded-for'] = request.ip;
  headers['x-forwarded-proto'] = request.protocol;
  if (request.host) headers['x-forwarded-host'] = request.host;
  // Trace context: with the undici instrumentation active it writes this hop's traceparent
  // (a child of our server span); a copy of the client's would be a duplicate header.
  if (undiciRequestChannel.hasSubscribers) {
    delete headers.traceparent;
    delete headers.tracestate;
  } else {
    const carrier: Record<string, string> = {};
    propagation.inject(context.active(), carrier);
    // Without an SDK nothing is injected and the client's traceparent travels on unchanged.
    if (carrier.traceparent) {
      headers.traceparent = carrier.traceparent;
      if (carrier.tracestate) headers.tracestate = carrier.tracestate;
      else delete headers.tracestate;
    }
  }
  return headers;
}

function upstreamError(
  reply: { request: { log: FastifyRequest['log'] }; send(payload: unknown): unknown },
  error: Error & { statusCode?: number; code?: string },
) {
  const timeout = error.statusCode === 504;
  reply.request.log.warn({ err: error, upstreamError: error.code }, 'upstream failed');
  reply.send(
    timeout
      ? new AppError(504, 'GATEWAY_TIMEOUT', 'upstream service did not answer in time')
      : new AppError(502, 'BAD_GATEWAY', 'upstream service unavailable'),
  );
}

/** Connection-level failures with no response: the upstream closed or refused the connection. */
const RESET_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE']);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** The pause before the one retry (ms): long enough for the next connection to reach another process. */
export const RETRY_AFTER_RESET_MS = 20;

/**
 * reply-from's retry decision: once, after RETRY_AFTER_RESET_MS, when the upstream connection was
 * closed or refused without any response (a keep-alive connection closed by a process that is
 * shutting down or gone, the race HTTP/1.1 leaves to clients) and the request is safe to send
 * again: a GET/HEAD/OPTIONS, or a request with an Idempotency-Key (the upstream answers a replay
 * with the first result), whose body is not a stream already consumed. Anything else is not
 * retried: a non-idempotent request must not be sent twice.
 */
export function retryAfterReset(ctx: {
  err?: (Error & { code?: string }) | null;
  res?: unknown;
  attempt: number;
  req: { method: string; headers: Record<string, unknown>; body?: unknown };
}): number | null {
  if (ctx.res || !ctx.err || ctx.attempt > 0 || !RESET_CODES.has(ctx.err.code ?? '')) return null;
  const body = ctx.req.body;
  if (!(body === undefined || body === null || typeof body === 'string' || Buffer.isBuffer(body)))
    return null;
  const safe = SAFE_METHODS.has(ctx.req.method) || typeof ctx.req.headers['idempotency-key'] === 'string';
  return safe ? RETRY_AFTER_RESET_MS : null;
}

/**
 * The per-minute limit for a targeting key (user id, or IP when anonymous), from the flag.
 * Each key's value is reused for up to a second: a flag change still applies within a second,
 * and the evaluation (about 0.15 ms here) is not paid on every request.
 */
function flagLimits(flags: Flags) {
  const def = FLAGS[RATE_FLAG].default;
  const cache = new LRUCache<string, number>({
    max: 10_000,
    ttl: 1000,
    fetchMethod: async (targetingKey) => {
      const value = await flags.number(RATE_FLAG, def, { targetingKey });
      return Number.isFinite(value) && value >= 1 ? Math.floor(value) : def;
    },
  });
  return { get: async (key: string) => (await cache.fetch(key)) ?? def };
}

/**
 * The per-IP limit of /api/auth/*, a second limit on the same route. @fastify/rate-limit runs one
 * of its hooks per request (a second `rateLimit()` hook is skipped), so this one counts through
 * `createRateLimit` (the same Redis store, its own keys `auth-ip:<ip>`) and answers itself; its
 * headers, those of the stricter limit, replace the general ones.
 */
function authIpLimiter(app: HttpApp, opts: ProxyOptions) {
  const count = app.createRateLimit({
    timeWindow: 60_000,
    allowList: () => !opts.limiterAvailable(),
    keyGenerator: (request: FastifyRequest) => `auth-ip:${request.ip}`,
    max: opts.authLimitPerMinute,
  });
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const r = await count(request);
    if (r.isAllowed) return;
    reply.header('x-ratelimit-limit', r.max);
    reply.header('x-ratelimit-remaining', r.remaining);
    reply.header('x-ratelimit-reset', r.ttlInSeconds);
    if (!r.isExceeded) return;
    reply.header('retry-after', r.ttlInSeconds);
    throw new AppError(
      429,
      'TOO_MANY_REQUESTS',
      `rate limit of /api/auth/* exceeded, retry in ${r.ttlInSeconds}s`,
    );
  };
}

const Wildcard = Type.Object({ '*': Type.Optional(Type.String({ maxLength: 2048 })) });

/**
 * The contract's /api/* routes: identify → rate limit (per user, or per IP when anonymous;
 * limit from flag `gateway.rate-limit-per-minute`, counters in Redis) → on /api/auth/* also per
 * client IP whatever the token (`authLimitPerMinute`, counters in Redis) → access check → proxy.
 * Must be registered after @fastify/reply-from and @fastify/rate-limit.
 */
export function proxyRoutes(app: HttpApp, opts: ProxyOptions) {
  const limits = flagLimits(opts.flags);
  const limiter = app.rateLimit({
    timeWindow: 60_000,
    // Redis away: no waiting for a command to time out on every request; traffic passes unlimited
    // (and /readyz reports Redis) until it is back.
    allowList: () => !opts.limiterAvailable(),
    keyGenerator: (request: FastifyRequest) =>
      request.user ? `user:${request.user.id}` : `ip:${request.ip}`,
    max: async (request: FastifyRequest) => limits.get(request.user?.id ?? request.ip),
  });
  const authLimiter = authIpLimiter(app, opts);
  const check = identify(opts.publicKey);
  // First of all: a path that could resolve to /internal (or anywhere but where it says) upstream.
  const safePath = async (request: FastifyRequest) => {
    if (unsafeUpstreamPath(upstreamPath(request.url)))
      throw notFound(`no route ${request.method} ${request.url.split('?', 1)[0]}`);
  };

  for (const rule of ROUTES) {
    const base = opts.upstreams[rule.upstream];
    for (const url of rule.patterns) {
      app.route({
        method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
        url,
        config: { featureFlag: rule.featureFlag },
        schema: { hide: true, ...(url.endsWith('*') ? { params: Wildcard } : {}) },
        onRequest: rule.perIpLimit
          ? [safePath, check, limiter, authLimiter, enforce(rule)]
          : [safePath, check, limiter, enforce(rule)],
        handler(request, reply) {
          return reply.from(`${base}${upstreamPath(request.url)}`, {
            timeout: opts.timeoutMs,
            rewriteRequestHeaders: (req, headers) => forwardHeaders(req, headers),
            onError: (r, { error }) => upstreamError(r, error as Error & { statusCode?: number }),
            // One retry, and only when sending it twice cannot do anything twice (retryAfterReset).
            retryDelay: retryAfterReset,
          });
        },
      });
    }
  }
}
