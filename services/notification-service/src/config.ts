import { amqpUrl, httpUrl, millis, postgresUrl, serviceConfig, z } from '@mdp/platform/config';

const delays = z
  .string()
  .regex(/^\d+(,\d+){0,9}$/, 'must be comma-separated milliseconds, e.g. 1000,5000,15000')
  .default('1000,5000,15000')
  .transform((v) => v.split(',').map(Number));

export const configSchema = serviceConfig(8084, {
  DATABASE_URL: postgresUrl(),
  AMQP_URL: amqpUrl(),
  JWT_PUBLIC_KEY: z
    .string()
    .min(1)
    .refine((v) => v.includes('BEGIN PUBLIC KEY'), 'must be an SPKI PEM'),
  /** Outbound channels; each is also switched by a feature flag. */
  WEBHOOK_URL: httpUrl().optional(),
  SLACK_WEBHOOK_URL: httpUrl().optional(),
  CHANNEL_TIMEOUT_MS: millis(3000),
  /** Delay before each retry of a failed event; the count is the retry bound. */
  RETRY_DELAYS_MS: delays,
  CONSUMER_PREFETCH: z.coerce.number().int().min(1).max(1000).default(20),
});

export type Config = z.output<typeof configSchema>;

export const localDefaults = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/notifications',
  AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
};
