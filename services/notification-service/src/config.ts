import { amqpUrl, httpUrl, postgresUrl, serviceConfig, type z } from '@mdp/platform/config';

export const configSchema = serviceConfig(8084, {
  DATABASE_URL: postgresUrl(),
  AMQP_URL: amqpUrl(),
  /** Outbound channels; each is also switched by a feature flag. */
  WEBHOOK_URL: httpUrl().optional(),
  SLACK_WEBHOOK_URL: httpUrl().optional(),
});

export type Config = z.output<typeof configSchema>;

export const localDefaults = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/notifications',
  AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
};
