import { amqpCheck } from '@mdp/platform/amqp';
import type { AuthHook, RouteAuth } from '@mdp/platform/auth';
import type { Flags } from '@mdp/platform/flags';
import { createHttpApp, type HttpApp } from '@mdp/platform/http';
import type { AppKit } from '@mdp/platform/service';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Redis } from 'ioredis';
import type { CatalogDb } from './adapters/catalog-db.js';
import { RedisExperimentLedger, RedisProductCache } from './adapters/redis.js';
import { defaults } from './config.js';
import { Catalog, type CatalogEvents } from './domain/catalog.js';
import { RankingExperiment } from './domain/experiment.js';
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
  /**
   * Guards /internal: a service token of an allowed caller (requireService of
   * @mdp/platform/service-tokens, audience product-service) or a 401/403.
   */
  internalAuth: AuthHook;
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
  const exposures = deps.metrics.counter(
    'experiment_exposures_total',
    'Users exposed to a variant of an A/B experiment (once per user)',
    ['experiment', 'variant'],
  );
  const conversions = deps.metrics.counter(
    'experiment_conversions_total',
    'Exposed users who converted (placed an order), by the variant they were exposed to',
    ['experiment', 'variant'],
  );
  const experiment = new RankingExperiment({
    // Per user (targetingKey = user id), read per request: a flag change applies at once.
    assignment: {
      variantFor: async (userId) =>
        deps.flags ? deps.flags.string('catalog.ranking', 'control', { targetingKey: userId }) : 'control',
    },
    ledger: new RedisExperimentLedger(deps.redis),
    counters: {
      exposed: (e, variant) => exposures.inc({ experiment: e, variant }),
      converted: (e, variant) => conversions.inc({ experiment: e, variant }),
    },
    onError: (err, step) => deps.logger.debug({ err, step }, 'experiment catalog.ranking not recorded'),
  });
  const catalog = new Catalog({
    experiment,
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
      internalRoutes(scope, { catalog, internalAuth: deps.internalAuth });
    },
  });
}
