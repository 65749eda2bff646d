import { amqpUrl, httpUrl, local, millis, pem, postgresUrl, z } from '@mdp/platform/config';
import { defineService } from '@mdp/platform/service';

/** Every default of order-service's settings, in one place. */
export const defaults = {
  PRODUCT_SERVICE_TIMEOUT_MS: 2000,
  PRODUCT_SERVICE_RETRIES: 2,
  OUTBOX_INTERVAL_MS: 1000,
  PG_POOL_MAX: 20,
  /**
   * PostgreSQL connections opened and warmed before the service listens, and kept open: a new
   * process's (a canary's) first orders do not each pay a new session's start-up (adapters/postgres.ts).
   */
  PG_POOL_MIN: 4,
  /** How often stock releases product-service missed are retried. */
  PENDING_RELEASES_INTERVAL_MS: 5000,
  /**
   * Stock one customer may hold (issue 15, finding 8), over their orders that are not cancelled
   * and were placed in the last ORDER_LIMIT_WINDOW_HOURS. The units cap is what bounds the stock
   * one account can tie up; the order cap is a backstop on rows and events.
   */
  ORDER_LIMIT_OPEN_ORDERS: 250,
  ORDER_LIMIT_UNITS_PER_PRODUCT: 20,
  ORDER_LIMIT_WINDOW_HOURS: 24,
} as const;

export const definition = defineService({
  name: 'order-service',
  port: 8083,
  settings: {
    DATABASE_URL: postgresUrl(),
    AMQP_URL: amqpUrl(),
    PRODUCT_SERVICE_URL: httpUrl(),
    /** SPKI PEM of user-service's Ed25519 key. */
    JWT_PUBLIC_KEY: pem('PUBLIC KEY', 'ed25519'),
    /** PKCS8 PEM: signs order-service's service tokens for product-service's /internal (only this service holds it). */
    JWT_SERVICE_PRIVATE_KEY: pem('PRIVATE KEY', 'ed25519'),
    /** Per attempt of a call to product-service. */
    PRODUCT_SERVICE_TIMEOUT_MS: millis(defaults.PRODUCT_SERVICE_TIMEOUT_MS),
    PRODUCT_SERVICE_RETRIES: z.coerce.number().int().min(0).max(5).default(defaults.PRODUCT_SERVICE_RETRIES),
    /** The outbox relay's poll interval (it is also woken by LISTEN/NOTIFY on every commit). */
    OUTBOX_INTERVAL_MS: millis(defaults.OUTBOX_INTERVAL_MS),
    PG_POOL_MAX: z.coerce.number().int().min(1).max(200).default(defaults.PG_POOL_MAX),
    /** Connections warmed at start and kept open when idle (at most PG_POOL_MAX; 0: none). */
    PG_POOL_MIN: z.coerce.number().int().min(0).max(200).default(defaults.PG_POOL_MIN),
    /** Open (not cancelled) orders per customer within the window; the next one is a 409 ORDER_LIMIT_REACHED. 0 = no limit. */
    ORDER_LIMIT_OPEN_ORDERS: z.coerce.number().int().min(0).default(defaults.ORDER_LIMIT_OPEN_ORDERS),
    /** Units of one product per customer over those orders (lines of one order summed). 0 = no limit. */
    ORDER_LIMIT_UNITS_PER_PRODUCT: z.coerce
      .number()
      .int()
      .min(0)
      .default(defaults.ORDER_LIMIT_UNITS_PER_PRODUCT),
    /** How far back an order counts (hours); 0 = every order that is not cancelled. */
    ORDER_LIMIT_WINDOW_HOURS: z.coerce
      .number()
      .int()
      .min(0)
      .max(24 * 366)
      .default(defaults.ORDER_LIMIT_WINDOW_HOURS),
  },
  localDefaults: {
    DATABASE_URL: local.postgres('orders'),
    AMQP_URL: local.amqp,
    PRODUCT_SERVICE_URL: local.service(8082),
  },
  migrations: { setting: 'DATABASE_URL', from: import.meta.url },
});

/** The schema alone (packages/k8s-validate reads every service's settings from it). */
export const configSchema = definition.config;
