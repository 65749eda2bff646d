import { amqpCheck } from '@mdp/platform/amqp';
import type { Health } from '@mdp/platform/health';
import { createHttpApp, type HttpApp, type ServiceInfo } from '@mdp/platform/http';
import type { Logger } from '@mdp/platform/logger';
import type { Metrics } from '@mdp/platform/metrics';
import { redisCheck } from '@mdp/platform/redis';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Redis } from 'ioredis';
import type { CatalogDb } from './adapters/catalog-db.js';

export interface AppDeps {
  info: ServiceInfo;
  logger: Logger;
  metrics: Metrics;
  health: Health;
  catalog: CatalogDb;
  redis: Redis;
  amqp: AmqpConnectionManager;
  bodyLimit?: number;
}

export function buildApp(deps: AppDeps): HttpApp {
  deps.health
    .add(deps.catalog.kind, deps.catalog.check)
    .add('redis', redisCheck(deps.redis))
    .add('rabbitmq', amqpCheck(deps.amqp));
  return createHttpApp(deps);
}
