import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import replyFrom from '@fastify/reply-from';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { AppError } from '@mdp/platform/errors';
import { createHttpApp, type HttpApp } from '@mdp/platform/http';
import { redisCheck } from '@mdp/platform/redis';
import type { AppKit } from '@mdp/platform/service';
import helmet from 'helmet';
import type { Redis } from 'ioredis';
import { CombinedDocs } from './adapters/openapi-upstreams.js';
import { defaults } from './config.js';
import type { UpstreamName } from './domain/routing.js';
import { proxyRoutes } from './routes/proxy.js';

export type Upstreams = Record<UpstreamName, string>;

export interface AppDeps extends AppKit {
  redis: Redis;
  /** Upstream services: reached per request, not readiness dependencies (no cascading unreadiness). */
  upstreams: Upstreams;
  /** Ed25519 SPKI PEM (JWT_PUBLIC_KEY). */
  jwtPublicKey: string;
  upstreamTimeoutMs?: number;
  /** Per client IP on /api/auth/* (AUTH_RATE_LIMIT_PER_MINUTE), whatever the token. */
  authRateLimitPerMinute?: number;
  corsOrigins?: string[];
  /** Behind one proxy (ingress / gateway): the client IP is the one it appended to X-Forwarded-For. */
  trustProxy?: boolean;
  bodyLimit?: number;
}

const swaggerCsp = createRequire(import.meta.url)('@fastify/swagger-ui/static/csp.json') as {
  script: string[];
  style: string[];
};

/** The headers helmet sets with this policy, captured once from its middleware. */
export function securityHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader: (name: string, value: unknown) => {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader: () => {},
  };
  helmet({
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'", ...swaggerCsp.script],
        styleSrc: ["'self'", "'unsafe-inline'", ...swaggerCsp.style],
        imgSrc: ["'self'", 'data:'],
        // TLS ends at the ingress; upgrading would break /docs on plain-HTTP local runs.
        upgradeInsecureRequests: null,
      },
    },
  })({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
  });
  return headers;
}

export function buildApp(deps: AppDeps): HttpApp {
  deps.health.add('redis', redisCheck(deps.redis));
  const docs = new CombinedDocs({
    upstreams: deps.upstreams,
    logger: deps.logger,
    version: deps.info.version,
  });
  return createHttpApp({
    ...deps,
    trustOneProxy: deps.trustProxy ?? defaults.TRUST_PROXY,
    setup: (app) => gatewayPlugins(app, deps, docs),
    routes: (scope) =>
      proxyRoutes(scope, {
        upstreams: deps.upstreams,
        limiterAvailable: () => deps.redis.status === 'ready',
        publicKey: deps.jwtPublicKey,
        flags: deps.flags,
        timeoutMs: deps.upstreamTimeoutMs ?? defaults.UPSTREAM_TIMEOUT_MS,
        authLimitPerMinute: deps.authRateLimitPerMinute ?? defaults.AUTH_RATE_LIMIT_PER_MINUTE,
      }),
  });
}

/** Security headers, CORS, rate limits, the proxy client and the combined API docs, before the routes. */
function gatewayPlugins(app: HttpApp, deps: AppDeps, docs: CombinedDocs): void {
  // Security headers: helmet's choice of headers and values, computed once (the policy has
  // nothing per-request, such as nonces) and set on every reply. Running the helmet middleware
  // on each request cost about 0.1 ms of CPU per request here.
  const security = securityHeaders();
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(security);
    done();
  });
  app.register(cors, {
    origin: deps.corsOrigins?.length ? deps.corsOrigins : false,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: [
      'authorization',
      'content-type',
      'idempotency-key',
      'x-request-id',
      'traceparent',
      'tracestate',
    ],
    exposedHeaders: [
      'x-request-id',
      'retry-after',
      'x-ratelimit-limit',
      'x-ratelimit-remaining',
      'x-ratelimit-reset',
    ],
    maxAge: 600,
  });
  app.register(rateLimit, {
    global: false,
    redis: deps.redis,
    nameSpace: 'rl:',
    // Redis away: let traffic through rather than fail every request (logged by the store's caller).
    skipOnError: true,
    errorResponseBuilder: (_request, ctx) =>
      new AppError(429, 'TOO_MANY_REQUESTS', `rate limit exceeded, retry in ${ctx.after}`),
  });
  app.register(replyFrom, {
    undici: {
      // No cap on connections per upstream: with a cap, requests beyond it would queue inside
      // undici with no timer running, so a hung upstream could hold them past the timeout. Each
      // in-flight request has its own connection and fails at UPSTREAM_TIMEOUT_MS at the latest.
      connections: null,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connect: { timeout: Math.min(deps.upstreamTimeoutMs ?? defaults.UPSTREAM_TIMEOUT_MS, 3000) },
      // reply-from would otherwise default to not verifying TLS certificates.
      ...({ tls: { rejectUnauthorized: true } } as object),
    },
  });

  app.register(swagger, {
    openapi: { openapi: '3.0.3', info: { title: 'MDP shop public API', version: deps.info.version } },
  });
  app.register(swaggerUi, {
    routePrefix: '/docs',
    uiHooks: { onRequest: async () => docs.refreshIfStale() },
    transformSpecification: () => docs.current(),
    transformSpecificationClone: false,
  });
}
