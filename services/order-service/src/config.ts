import { amqpUrl, httpUrl, postgresUrl, serviceConfig, type z } from '@mdp/platform/config';

export const configSchema = serviceConfig(8083, {
  DATABASE_URL: postgresUrl(),
  AMQP_URL: amqpUrl(),
  PRODUCT_SERVICE_URL: httpUrl(),
});

export type Config = z.output<typeof configSchema>;

export const localDefaults = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/orders',
  AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
  PRODUCT_SERVICE_URL: 'http://127.0.0.1:8082',
};
