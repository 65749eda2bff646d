import { amqpCheck } from '@mdp/platform/amqp';
import type { Health } from '@mdp/platform/health';
import { createHttpApp, type HttpApp, type ServiceInfo } from '@mdp/platform/http';
import type { Logger } from '@mdp/platform/logger';
import type { Metrics } from '@mdp/platform/metrics';
import { pgCheck } from '@mdp/platform/postgres';
import { redisCheck } from '@mdp/platform/redis';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';

export interface AppDeps {
  info: ServiceInfo;
  logger: Logger;
  metrics: Metrics;
  health: Health;
  db: Pool;
  redis: Redis;
  amqp: AmqpConnectionManager;
  bodyLimit?: number;
}

export function buildApp(deps: AppDeps): HttpApp {
  deps.health
    .add('postgres', pgCheck(deps.db))
    .add('redis', redisCheck(deps.redis))
    .add('rabbitmq', amqpCheck(deps.amqp));
  return createHttpApp(deps);
}
