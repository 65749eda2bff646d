import { amqpUrl, bool, pem, postgresUrl, redisFailoverShape, serviceConfig, z } from '@mdp/platform/config';

const seconds = (def: number) =>
  z.coerce
    .number()
    .int()
    .min(1)
    .max(365 * 24 * 3600)
    .default(def);
const count = (def: number) => z.coerce.number().int().min(1).max(1_000_000).default(def);

export const configSchema = serviceConfig(8081, {
  DATABASE_URL: postgresUrl(),
  ...redisFailoverShape(),
  /**
   * A refresh token is handed out only once this many Redis replicas hold it (Redis WAIT):
   * 1 in production, so a primary lost right after the write loses no token. 0 = no wait.
   */
  REDIS_MIN_REPLICA_ACKS: z.coerce.number().int().min(0).max(5).default(0),
  AMQP_URL: amqpUrl(),
  /** Ed25519 PKCS8 PEM that signs access tokens (only user-service holds it). */
  JWT_PRIVATE_KEY: pem('PRIVATE KEY'),
  ACCESS_TOKEN_TTL_SECONDS: seconds(15 * 60),
  REFRESH_TOKEN_TTL_SECONDS: seconds(7 * 24 * 3600),
  REFRESH_FAMILY_TTL_SECONDS: seconds(30 * 24 * 3600),
  LOGIN_MAX_FAILURES_PER_ACCOUNT: count(5),
  LOGIN_MAX_FAILURES_PER_IP: count(50),
  LOGIN_FAILURE_WINDOW_SECONDS: seconds(15 * 60),
  LOGIN_BLOCK_SECONDS: seconds(15 * 60),
  /** Behind the gateway: take the client IP (for login throttling) from X-Forwarded-For. */
  TRUST_PROXY: bool(true),
});

export type Config = z.output<typeof configSchema>;

export const localDefaults = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/users',
  REDIS_URL: 'redis://127.0.0.1:6379',
  AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
};
