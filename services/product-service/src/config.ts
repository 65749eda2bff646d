import { amqpUrl, mongoOrPostgresUrl, redisUrl, serviceConfig, type z } from '@mdp/platform/config';

export const configSchema = serviceConfig(8082, {
  /** mongodb://… in production; postgres://… where no MongoDB is configured. The scheme picks the adapter. */
  PRODUCT_DB_URL: mongoOrPostgresUrl(),
  REDIS_URL: redisUrl(),
  AMQP_URL: amqpUrl(),
});

export type Config = z.output<typeof configSchema>;

export const localDefaults = {
  PRODUCT_DB_URL: 'postgres://postgres@127.0.0.1:5432/catalog',
  REDIS_URL: 'redis://127.0.0.1:6379',
  AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
};
