import { once } from 'node:events';
import { createServer } from 'node:net';
import { authenticate, requireRole } from '@mdp/platform/auth';
import { type Flags, initFlags } from '@mdp/platform/flags';
import { Health } from '@mdp/platform/health';
import { createHttpApp, type HttpApp } from '@mdp/platform/http';
import { createLogger } from '@mdp/platform/logger';
import { Metrics } from '@mdp/platform/metrics';
import { createRedis } from '@mdp/platform/redis';
import { TEST_REDIS_URL, tempRedisPrefix } from '@mdp/platform/testing';
import { Type } from '@sinclair/typebox';
import type { Redis } from 'ioredis';
import { type AppDeps, buildApp, type Upstreams } from '../src/app.js';

export const logger = createLogger({ service: 'api-gateway', level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const info = (service: string) => ({ service, version: 'test', commit: 'test' });

export async function listen(app: HttpApp): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('no address');
  return `http://127.0.0.1:${addr.port}`;
}

/** A URL where nothing listens (a port taken, then released). */
export async function deadUrl(): Promise<string> {
  const srv = createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const addr = srv.address();
  if (!addr || typeof addr === 'string') throw new Error('no address');
  await new Promise((r) => srv.close(r));
  return `http://127.0.0.1:${addr.port}`;
}

export interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/**
 * A stand-in for product-service (which belongs to another team): a real Fastify app from the
 * platform kit that re-checks the token itself, with an admin-only write route, a slow route,
 * and a record of what it received.
 */
export async function startCatalogUpstream(publicKey: string) {
  const seen: Seen[] = [];
  const app = createHttpApp({
    logger,
    metrics: new Metrics(info('product-service'), { defaultMetrics: false }),
    health: new Health(),
    info: info('product-service'),
  });
  app.addHook('preHandler', async (request) => {
    seen.push({
      method: request.method,
      url: request.url,
      headers: { ...request.headers },
      body: request.body,
    });
  });
  // Every request target that arrived, routed or not (a 404 upstream still means it got through).
  const arrived: string[] = [];
  app.addHook('onRequest', async (request) => {
    arrived.push(request.raw.url ?? '');
  });
  const Product = Type.Object({ id: Type.String(), name: Type.String() });
  app.get(
    '/products',
    { schema: { querystring: Type.Object({ q: Type.Optional(Type.String()) }) } },
    async (request) => ({ items: [{ id: 'p1', name: 'Mug' }], q: request.query.q ?? null }),
  );
  // A hung upstream: answers only when released (or when the app closes). Counts what reached it.
  let open = () => {};
  const gate = () =>
    new Promise<void>((resolve) => {
      open = resolve;
    });
  let hung = gate();
  const slow = {
    arrived: 0,
    answered: 0,
    /** Answers every request waiting now. */
    release() {
      open();
      hung = gate();
    },
  };
  app.get('/products/slow', { schema: {} }, async () => {
    slow.arrived++;
    await hung;
    slow.answered++;
    return { slow: true };
  });
  app.addHook('preClose', (done) => {
    slow.release();
    done();
  });
  app.get('/products/:id', { schema: { params: Type.Object({ id: Type.String() }) } }, async (request) => ({
    id: request.params.id,
    name: 'Mug',
  }));
  app.post(
    '/products',
    {
      preHandler: [authenticate(publicKey), requireRole('admin')],
      schema: {
        body: Type.Object({ name: Type.String({ maxLength: 100 }) }, { additionalProperties: false }),
        response: { 201: Product },
      },
    },
    async (request, reply) => reply.code(201).send({ id: 'p2', name: request.body.name }),
  );
  app.get('/internal/secret', { schema: {} }, async () => ({ secret: true }));
  const url = await listen(app);
  return { app, url, seen, arrived, slow };
}

export interface GatewayHarness {
  app: HttpApp;
  redis: Redis;
  flags: Flags;
  close(): Promise<void>;
}

let domains = 0;

export async function startGateway(
  opts: {
    upstreams: Upstreams;
    publicKey: string;
    keyPrefix?: string;
    flagsFile?: string;
  } & Partial<AppDeps>,
): Promise<GatewayHarness & { dropRedis(): Promise<void> }> {
  const prefix = opts.keyPrefix ? undefined : tempRedisPrefix('gw');
  const redis = createRedis(TEST_REDIS_URL, { keyPrefix: opts.keyPrefix ?? prefix?.keyPrefix });
  await redis.connect();
  const metrics = new Metrics(info('api-gateway'), { defaultMetrics: false });
  const flags = await initFlags(
    opts.flagsFile
      ? { FLAGS_PROVIDER: 'file', FLAGS_FILE: opts.flagsFile, FLAGS_POLL_MS: 100 }
      : { FLAGS_PROVIDER: 'none' },
    { logger, metrics, domain: `gw-test-${process.pid}-${++domains}` },
  );
  const app = buildApp({
    info: info('api-gateway'),
    logger,
    metrics,
    health: new Health(),
    flags,
    redis,
    jwtPublicKey: opts.publicKey,
    // Far above what a loaded 2-core machine needs for a real call (argon2 at registration); the
    // slow route never answers until released, so the timeout tests do not depend on the figure.
    upstreamTimeoutMs: 5000,
    ...opts,
  });
  await app.ready();
  return {
    app,
    redis,
    flags,
    async close() {
      await app.close();
      await flags.close();
      redis.disconnect();
    },
    dropRedis: async () => prefix?.drop(),
  };
}
