import type { Health } from '@mdp/platform/health';
import { createHttpApp, type HttpApp, type ServiceInfo } from '@mdp/platform/http';
import type { Logger } from '@mdp/platform/logger';
import type { Metrics } from '@mdp/platform/metrics';
import { redisCheck } from '@mdp/platform/redis';
import type { Redis } from 'ioredis';

export interface Upstreams {
  user: string;
  product: string;
  order: string;
  notification: string;
}

export interface AppDeps {
  info: ServiceInfo;
  logger: Logger;
  metrics: Metrics;
  health: Health;
  redis: Redis;
  /** Upstream services: reached per request, not readiness dependencies (no cascading unreadiness). */
  upstreams: Upstreams;
  trustProxy?: boolean;
  bodyLimit?: number;
}

export function buildApp(deps: AppDeps): HttpApp {
  deps.health.add('redis', redisCheck(deps.redis));
  return createHttpApp(deps);
}
