import { amqpCheck } from '@mdp/platform/amqp';
import type { RouteAuth } from '@mdp/platform/auth';
import { createHttpApp, type HttpApp } from '@mdp/platform/http';
import { pgCheck } from '@mdp/platform/postgres';
import type { AppKit } from '@mdp/platform/service';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Pool } from 'pg';
import { PostgresOrderStore } from './adapters/postgres.js';
import { defaults } from './config.js';
import type { OrderLimits } from './domain/limits.js';
import { Orders } from './domain/orders.js';
import type { Inventory } from './domain/ports.js';
import { errorMap } from './errors.js';
import { FaultInjector } from './faults.js';
import { orderRoutes } from './routes/orders.js';

export interface AppDeps extends AppKit {
  db: Pool;
  /** Readiness only: events leave through the outbox relay. */
  amqp?: AmqpConnectionManager;
  /** product-service is called per request behind a circuit breaker, not a readiness dependency. */
  inventory: Inventory;
  auth: RouteAuth;
  bodyLimit?: number;
  /** Default: the settings' defaults (src/config.ts). */
  limits?: OrderLimits;
}

export const DEFAULT_LIMITS: OrderLimits = {
  maxOpenOrders: defaults.ORDER_LIMIT_OPEN_ORDERS,
  maxUnitsPerProduct: defaults.ORDER_LIMIT_UNITS_PER_PRODUCT,
  windowHours: defaults.ORDER_LIMIT_WINDOW_HOURS,
};

export function buildApp(deps: AppDeps): { app: HttpApp; orders: Orders } {
  deps.health.add('postgres', pgCheck(deps.db));
  if (deps.amqp) deps.health.add('rabbitmq', amqpCheck(deps.amqp));
  const orders = new Orders({
    store: new PostgresOrderStore(deps.db),
    inventory: deps.inventory,
    logger: deps.logger,
    limits: deps.limits ?? DEFAULT_LIMITS,
  });
  const faults = new FaultInjector(deps.flags, deps.logger);
  const app = createHttpApp({
    ...deps,
    errors: errorMap,
    openapi: {
      title: 'order-service',
      description: 'Orders',
      tags: [{ name: 'orders', description: "The signed-in user's orders: place, read, cancel" }],
    },
    routes: (scope) => orderRoutes(scope, { orders, auth: deps.auth, faults, metrics: deps.metrics }),
  });
  return { app, orders };
}
