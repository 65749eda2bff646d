import { amqpCheck } from '@mdp/platform/amqp';
import type { RouteAuth } from '@mdp/platform/auth';
import type { Flags } from '@mdp/platform/flags';
import { createHttpApp, type HttpApp } from '@mdp/platform/http';
import type { AppKit } from '@mdp/platform/service';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Redis } from 'ioredis';
import type { CatalogDb } from './adapters/catalog-db.js';
import { RedisProductCache } from './adapters/redis.js';
import { defaults } from './config.js';
import { Catalog, type CatalogEvents } from './domain/catalog.js';
import { errorMap } from './errors.js';
import { internalRoutes } from './routes/internal.js';
import { productRoutes } from './routes/products.js';

export interface AppDeps extends Omit<AppKit, 'flags'> {
  /** Feature flags (kill switches per route); without them every operation is on (code defaults). */
  flags?: Flags;
  catalog: CatalogDb;
  redis: Redis;
  amqp?: AmqpConnectionManager;
  events: CatalogEvents;
  auth: RouteAuth;
  stockLowThreshold?: number;
  cacheTtlSeconds?: number;
  bodyLimit?: number;
}

export function buildApp(deps: AppDeps): HttpApp {
  // Redis is not a readiness dependency: without it reads go to the store (degraded, correct).
  deps.health.add(deps.catalog.kind, deps.catalog.check);
  if (deps.amqp) deps.health.add('rabbitmq', amqpCheck(deps.amqp));
  const cache = new RedisProductCache(deps.redis, {
    metrics: deps.metrics,
    logger: deps.logger,
    ttlSeconds: deps.cacheTtlSeconds ?? defaults.CACHE_TTL_SECONDS,
  });
  const catalog = new Catalog({
    repo: deps.catalog,
    cache,
    events: deps.events,
    logger: deps.logger,
    stockLowThreshold: deps.stockLowThreshold ?? defaults.STOCK_LOW_THRESHOLD,
  });
  return createHttpApp({
    ...deps,
    errors: errorMap,
    openapi: {
      title: 'product-service',
      description: 'The catalog, and stock reservations for order-service',
      tags: [
        { name: 'products', description: 'The catalog: browse and search (anyone), change (admin)' },
        { name: 'internal', description: 'Stock reservations for order-service (never through the gateway)' },
      ],
    },
    routes: (scope) => {
      productRoutes(scope, { catalog, auth: deps.auth });
      internalRoutes(scope, { catalog });
    },
  });
}
