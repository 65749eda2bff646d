import { bool, httpUrl, local, millis, pem, redisFailoverShape, z } from '@mdp/platform/config';
import { defineService } from '@mdp/platform/service';

/** Every default of the gateway's settings, in one place. */
export const defaults = {
  UPSTREAM_TIMEOUT_MS: 5000,
  TRUST_PROXY: false,
  AUTH_RATE_LIMIT_PER_MINUTE: 30,
} as const;

/** Comma-separated list of allowed browser origins (`https://shop.example.com,http://localhost:5173`). */
const origins = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .refine((list) => list.every((o) => /^https?:\/\/[^/\s]+$/.test(o)), {
    message: 'must be a comma-separated list of origins like https://shop.example.com',
  });

export const definition = defineService({
  name: 'api-gateway',
  port: 8080,
  settings: {
    ...redisFailoverShape(),
    USER_SERVICE_URL: httpUrl(),
    PRODUCT_SERVICE_URL: httpUrl(),
    ORDER_SERVICE_URL: httpUrl(),
    NOTIFICATION_SERVICE_URL: httpUrl(),
    /** Ed25519 SPKI PEM that verifies access tokens. */
    JWT_PUBLIC_KEY: pem('PUBLIC KEY', 'ed25519'),
    /** An upstream that has not answered (headers) within this time is a 504. */
    UPSTREAM_TIMEOUT_MS: millis(defaults.UPSTREAM_TIMEOUT_MS),
    CORS_ORIGINS: origins,
    /**
     * Requests per minute per client IP to /api/auth/* (sign-in, registration, refresh), on top of
     * the general limit and whether or not the request carries a bearer token.
     */
    AUTH_RATE_LIMIT_PER_MINUTE: z.coerce
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(defaults.AUTH_RATE_LIMIT_PER_MINUTE),
    /** Behind the ingress: trust its X-Forwarded-For for client IPs. */
    TRUST_PROXY: bool(defaults.TRUST_PROXY),
  },
  localDefaults: {
    REDIS_URL: local.redis,
    USER_SERVICE_URL: local.service(8081),
    PRODUCT_SERVICE_URL: local.service(8082),
    ORDER_SERVICE_URL: local.service(8083),
    NOTIFICATION_SERVICE_URL: local.service(8084),
  },
});

/** The schema alone (packages/k8s-validate reads every service's settings from it). */
export const configSchema = definition.config;
