import { amqpUrl, postgresUrl, redisUrl, serviceConfig, type z } from '@mdp/platform/config';

export const configSchema = serviceConfig(8081, {
  DATABASE_URL: postgresUrl(),
  REDIS_URL: redisUrl(),
  AMQP_URL: amqpUrl(),
});

export type Config = z.output<typeof configSchema>;

export const localDefaults = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/users',
  REDIS_URL: 'redis://127.0.0.1:6379',
  AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
};
