import { amqpCheck } from '@mdp/platform/amqp';
import type { Health } from '@mdp/platform/health';
import { createHttpApp, type HttpApp, type ServiceInfo } from '@mdp/platform/http';
import type { Logger } from '@mdp/platform/logger';
import type { Metrics } from '@mdp/platform/metrics';
import { pgCheck } from '@mdp/platform/postgres';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Pool } from 'pg';

export interface AppDeps {
  info: ServiceInfo;
  logger: Logger;
  metrics: Metrics;
  health: Health;
  db: Pool;
  amqp: AmqpConnectionManager;
  /** product-service is called per request behind a circuit breaker, not a readiness dependency. */
  productServiceUrl: string;
  bodyLimit?: number;
}

export function buildApp(deps: AppDeps): HttpApp {
  deps.health.add('postgres', pgCheck(deps.db)).add('rabbitmq', amqpCheck(deps.amqp));
  return createHttpApp(deps);
}
