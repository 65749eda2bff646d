import { amqpUrl, local, mongoOrPostgresUrl, pem, redisUrl, z } from '@mdp/platform/config';
import { defineService } from '@mdp/platform/service';

/** Every default of product-service's settings, in one place. */
export const defaults = {
  STOCK_LOW_THRESHOLD: 5,
  REDIS_KEY_PREFIX: 'catalog:',
  CACHE_TTL_SECONDS: 60,
  INTERNAL_ALLOWED_CALLERS: 'order-service',
} as const;

export const definition = defineService({
  name: 'product-service',
  port: 8082,
  settings: {
    /** mongodb://… in production; postgres://… where no MongoDB is configured. The scheme picks the adapter. */
    PRODUCT_DB_URL: mongoOrPostgresUrl(),
    REDIS_URL: redisUrl(),
    AMQP_URL: amqpUrl(),
    /** SPKI PEM of user-service's Ed25519 key: verifies admin tokens. */
    JWT_PUBLIC_KEY: pem('PUBLIC KEY', 'ed25519'),
    /** SPKI PEM of the key that order-service signs its service tokens with: /internal needs one. */
    JWT_SERVICE_PUBLIC_KEY: pem('PUBLIC KEY', 'ed25519'),
    /** The services whose service tokens /internal accepts (comma-separated names). */
    INTERNAL_ALLOWED_CALLERS: z
      .string()
      .default(defaults.INTERNAL_ALLOWED_CALLERS)
      .transform((s) =>
        s
          .split(',')
          .map((n) => n.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.string().regex(/^[a-z][a-z0-9-]{0,62}$/)).min(1)),
    /** `product.stock_low` when stock drops below this. */
    STOCK_LOW_THRESHOLD: z.coerce.number().int().min(0).max(1_000_000).default(defaults.STOCK_LOW_THRESHOLD),
    /** Prefix of every cache key (tests give each run its own). */
    REDIS_KEY_PREFIX: z.string().min(1).max(100).default(defaults.REDIS_KEY_PREFIX),
    CACHE_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(defaults.CACHE_TTL_SECONDS),
  },
  localDefaults: {
    PRODUCT_DB_URL: local.postgres('catalog'),
    REDIS_URL: local.redis,
    AMQP_URL: local.amqp,
  },
  // SQL migrations for the PostgreSQL store; MongoDB's schema is databases/mongodb/init.js's.
  migrations: { setting: 'PRODUCT_DB_URL', from: import.meta.url },
});

/** The schema alone (packages/k8s-validate reads every service's settings from it). */
export const configSchema = definition.config;
