import { amqpUrl, mongoOrPostgresUrl, redisUrl, serviceConfig, z } from '@mdp/platform/config';

export const configSchema = serviceConfig(8082, {
  /** mongodb://… in production; postgres://… where no MongoDB is configured. The scheme picks the adapter. */
  PRODUCT_DB_URL: mongoOrPostgresUrl(),
  REDIS_URL: redisUrl(),
  AMQP_URL: amqpUrl(),
  /** SPKI PEM of user-service's Ed25519 key: verifies admin tokens. */
  JWT_PUBLIC_KEY: z
    .string()
    .min(1)
    .refine((v) => v.includes('BEGIN PUBLIC KEY'), 'must be an SPKI PEM'),
  /** `product.stock_low` when stock drops below this. */
  STOCK_LOW_THRESHOLD: z.coerce.number().int().min(0).max(1_000_000).default(5),
  /** Prefix of every cache key (tests give each run its own). */
  REDIS_KEY_PREFIX: z.string().min(1).max(100).default('catalog:'),
  CACHE_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
});

export type Config = z.output<typeof configSchema>;

export const localDefaults = {
  PRODUCT_DB_URL: 'postgres://postgres@127.0.0.1:5432/catalog',
  REDIS_URL: 'redis://127.0.0.1:6379',
  AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
};
