import { MAX_ACCESS_TOKEN_TTL_SECONDS } from '@mdp/platform/auth';
import { amqpUrl, bool, local, pem, postgresUrl, redisFailoverShape, z } from '@mdp/platform/config';
import { defineService } from '@mdp/platform/service';

const seconds = (def: number) =>
  z.coerce
    .number()
    .int()
    .min(1)
    .max(365 * 24 * 3600)
    .default(def);
const count = (def: number) => z.coerce.number().int().min(1).max(1_000_000).default(def);

/** Every default of user-service's settings, in one place (the schema and buildApp use these). */
export const defaults = {
  ACCESS_TOKEN_TTL_SECONDS: 15 * 60,
  REFRESH_TOKEN_TTL_SECONDS: 7 * 24 * 3600,
  REFRESH_FAMILY_TTL_SECONDS: 30 * 24 * 3600,
  LOGIN_MAX_FAILURES_PER_ACCOUNT: 5,
  LOGIN_MAX_FAILURES_PER_IP: 50,
  LOGIN_FAILURE_WINDOW_SECONDS: 15 * 60,
  LOGIN_BLOCK_SECONDS: 15 * 60,
  TRUST_PROXY: true,
} as const;

export const definition = defineService({
  name: 'user-service',
  port: 8081,
  localDefaults: {
    DATABASE_URL: local.postgres('users'),
    REDIS_URL: local.redis,
    AMQP_URL: local.amqp,
  },
  migrations: { setting: 'DATABASE_URL', from: import.meta.url },
  settings: {
    DATABASE_URL: postgresUrl(),
    ...redisFailoverShape(),
    /**
     * A refresh token is handed out only once this many Redis replicas hold it (Redis WAIT):
     * 1 in production, so a primary lost right after the write loses no token. 0 = no wait.
     */
    REDIS_MIN_REPLICA_ACKS: z.coerce.number().int().min(0).max(5).default(0),
    AMQP_URL: amqpUrl(),
    /** Ed25519 PKCS8 PEM that signs access tokens (only user-service holds it). */
    JWT_PRIVATE_KEY: pem('PRIVATE KEY', 'ed25519'),
    /** At most MAX_ACCESS_TOKEN_TTL_SECONDS (1 h): verifiers refuse longer-lived tokens. */
    ACCESS_TOKEN_TTL_SECONDS: z.coerce
      .number()
      .int()
      .min(60)
      .max(MAX_ACCESS_TOKEN_TTL_SECONDS)
      .default(defaults.ACCESS_TOKEN_TTL_SECONDS),
    REFRESH_TOKEN_TTL_SECONDS: seconds(defaults.REFRESH_TOKEN_TTL_SECONDS),
    REFRESH_FAMILY_TTL_SECONDS: seconds(defaults.REFRESH_FAMILY_TTL_SECONDS),
    LOGIN_MAX_FAILURES_PER_ACCOUNT: count(defaults.LOGIN_MAX_FAILURES_PER_ACCOUNT),
    LOGIN_MAX_FAILURES_PER_IP: count(defaults.LOGIN_MAX_FAILURES_PER_IP),
    LOGIN_FAILURE_WINDOW_SECONDS: seconds(defaults.LOGIN_FAILURE_WINDOW_SECONDS),
    LOGIN_BLOCK_SECONDS: seconds(defaults.LOGIN_BLOCK_SECONDS),
    /** Behind the gateway: take the client IP (for login throttling) from X-Forwarded-For. */
    TRUST_PROXY: bool(defaults.TRUST_PROXY),
  },
});

/** The schema alone (packages/k8s-validate reads every service's settings from it). */
export const configSchema = definition.config;
