/**
 * One server of the gateway benchmark, in its own process (so autocannon, the gateway and the
 * service do not share an event loop). Prints `READY <url>` when listening.
 *   bare      a bare Fastify app with one JSON route (the baseline)
 *   upstream  a service built from the platform kit (createHttpApp) with the same JSON route
 *             behind /products/:id
 *   plain-proxy  the proxy hop alone (@fastify/reply-from on bare Fastify), for reference
 *   gateway   the real api-gateway app (token check, Redis rate limit read from the flag file,
 *             helmet, CORS, request ids, metrics) proxying /api/products/:id to UPSTREAM_URL
 */

import replyFrom from '@fastify/reply-from';
import { buildApp } from '@mdp/api-gateway/app';
import { initFlags } from '@mdp/platform/flags';
import { Health } from '@mdp/platform/health';
import { createHttpApp } from '@mdp/platform/http';
import { createLogger } from '@mdp/platform/logger';
import { Metrics } from '@mdp/platform/metrics';
import { createRedis } from '@mdp/platform/redis';
import { Type } from '@sinclair/typebox';
import Fastify from 'fastify';

const role = process.argv[2];
/** BENCH_PORT: where to listen (the bench's own range); 0 = any free port. */
const port = Number(process.env.BENCH_PORT ?? 0);
const level = process.env.LOG_LEVEL ?? 'warn';
const body = { id: 'p-1', sku: 'MUG-1', name: 'Mug', price: { amount: 1299, currency: 'EUR' }, stock: 12 };
const info = (service: string) => ({ service, version: 'bench', commit: 'bench' });

async function main() {
  let url: string;
  let close: () => Promise<unknown>;
  if (role === 'bare') {
    const app = Fastify();
    app.get('/products/:id', async () => body);
    url = await app.listen({ host: '127.0.0.1', port });
    close = () => app.close();
  } else if (role === 'plain-proxy') {
    // Reference: the proxy hop alone (reply-from, same undici settings), no gateway features.
    const upstream = process.env.UPSTREAM_URL;
    if (!upstream) throw new Error('UPSTREAM_URL is required');
    const app = Fastify();
    await app.register(replyFrom, { undici: { connections: 256, pipelining: 1, keepAliveTimeout: 30_000 } });
    app.get('/api/products/:id', (request, reply) => reply.from(`${upstream}${request.url.slice(4)}`));
    url = await app.listen({ host: '127.0.0.1', port });
    close = () => app.close();
  } else if (role === 'upstream') {
    const logger = createLogger({ service: 'bench-upstream', level });
    const app = createHttpApp({
      logger,
      metrics: new Metrics(info('bench-upstream')),
      health: new Health(),
      info: info('bench-upstream'),
    });
    app.get('/products/:id', { schema: { params: Type.Object({ id: Type.String() }) } }, async () => body);
    app.get('/orders/:id', { schema: { params: Type.Object({ id: Type.String() }) } }, async () => body);
    url = await app.listen({ host: '127.0.0.1', port });
    close = () => app.close();
  } else if (role === 'gateway') {
    const upstream = process.env.UPSTREAM_URL;
    const publicKey = process.env.JWT_PUBLIC_KEY;
    if (!upstream || !publicKey) throw new Error('UPSTREAM_URL and JWT_PUBLIC_KEY are required');
    const logger = createLogger({ service: 'api-gateway', level });
    const metrics = new Metrics(info('api-gateway'));
    const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
      keyPrefix: process.env.BENCH_REDIS_PREFIX ?? 'bench:gw:',
    });
    await redis.connect();
    const flags = await initFlags(
      { FLAGS_PROVIDER: 'file', FLAGS_FILE: process.env.FLAGS_FILE, FLAGS_POLL_MS: 1000 },
      { logger, metrics, domain: 'api-gateway' },
    );
    const app = buildApp({
      info: info('api-gateway'),
      logger,
      metrics,
      health: new Health(),
      flags,
      redis,
      upstreams: { user: upstream, product: upstream, order: upstream, notification: upstream },
      jwtPublicKey: publicKey,
    });
    url = await app.listen({ host: '127.0.0.1', port });
    close = async () => {
      await app.close();
      await flags.close();
      redis.disconnect();
    };
  } else {
    throw new Error(`unknown role ${role}`);
  }
  process.stdout.write(`READY ${url}\n`);
  const stop = () => void close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
