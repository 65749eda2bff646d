import { CONSUMERS } from '@mdp/contracts/events';
import { amqpUrl, httpUrl, local, millis, pem, postgresUrl, z } from '@mdp/platform/config';
import { defineService } from '@mdp/platform/service';

/** Every default of notification-service's settings, in one place. */
export const defaults = {
  CHANNEL_TIMEOUT_MS: 3000,
  /** The contract's: the TTLs of the retry queues databases/rabbitmq/definitions.json declares. */
  RETRY_DELAYS_MS: CONSUMERS['notification-service'].retryDelaysMs,
  CONSUMER_PREFETCH: 20,
} as const;

const delays = z
  .string()
  .regex(/^\d+(,\d+){0,9}$/, 'must be comma-separated milliseconds, e.g. 1000,5000,15000')
  .default(defaults.RETRY_DELAYS_MS.join(','))
  .transform((v) => v.split(',').map(Number));

export const definition = defineService({
  name: 'notification-service',
  port: 8084,
  settings: {
    DATABASE_URL: postgresUrl(),
    AMQP_URL: amqpUrl(),
    JWT_PUBLIC_KEY: pem('PUBLIC KEY', 'ed25519'),
    /** Outbound channels; each is also switched by a feature flag. */
    WEBHOOK_URL: httpUrl().optional(),
    SLACK_WEBHOOK_URL: httpUrl().optional(),
    CHANNEL_TIMEOUT_MS: millis(defaults.CHANNEL_TIMEOUT_MS),
    /** Delay before each retry of a failed event; the count is the retry bound. */
    RETRY_DELAYS_MS: delays,
    CONSUMER_PREFETCH: z.coerce.number().int().min(1).max(1000).default(defaults.CONSUMER_PREFETCH),
  },
  localDefaults: {
    DATABASE_URL: local.postgres('notifications'),
    AMQP_URL: local.amqp,
  },
  migrations: { setting: 'DATABASE_URL', from: import.meta.url },
});

/** The schema alone (packages/k8s-validate reads every service's settings from it). */
export const configSchema = definition.config;
