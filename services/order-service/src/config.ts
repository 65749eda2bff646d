import { amqpUrl, httpUrl, millis, postgresUrl, serviceConfig, z } from '@mdp/platform/config';

export const configSchema = serviceConfig(8083, {
  DATABASE_URL: postgresUrl(),
  AMQP_URL: amqpUrl(),
  PRODUCT_SERVICE_URL: httpUrl(),
  /** SPKI PEM of user-service's Ed25519 key. */
  JWT_PUBLIC_KEY: z
    .string()
    .min(1)
    .refine((v) => v.includes('BEGIN PUBLIC KEY'), 'must be an SPKI PEM'),
  /** Per attempt of a call to product-service. */
  PRODUCT_SERVICE_TIMEOUT_MS: millis(2000),
  PRODUCT_SERVICE_RETRIES: z.coerce.number().int().min(0).max(5).default(2),
  /** The outbox relay's poll interval (it is also woken by LISTEN/NOTIFY on every commit). */
  OUTBOX_INTERVAL_MS: millis(1000),
  PG_POOL_MAX: z.coerce.number().int().min(1).max(200).default(20),
});

export type Config = z.output<typeof configSchema>;

export const localDefaults = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/orders',
  AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
  PRODUCT_SERVICE_URL: 'http://127.0.0.1:8082',
};
