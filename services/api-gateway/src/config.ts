import { bool, httpUrl, millis, pem, redisFailoverShape, serviceConfig, z } from '@mdp/platform/config';

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

export const configSchema = serviceConfig(8080, {
  ...redisFailoverShape(),
  USER_SERVICE_URL: httpUrl(),
  PRODUCT_SERVICE_URL: httpUrl(),
  ORDER_SERVICE_URL: httpUrl(),
  NOTIFICATION_SERVICE_URL: httpUrl(),
  /** Ed25519 SPKI PEM that verifies access tokens. */
  JWT_PUBLIC_KEY: pem('PUBLIC KEY'),
  /** An upstream that has not answered (headers) within this time is a 504. */
  UPSTREAM_TIMEOUT_MS: millis(5000),
  CORS_ORIGINS: origins,
  /** Behind the ingress: trust its X-Forwarded-For for client IPs. */
  TRUST_PROXY: bool(false),
});

export type Config = z.output<typeof configSchema>;

export const localDefaults = {
  REDIS_URL: 'redis://127.0.0.1:6379',
  USER_SERVICE_URL: 'http://127.0.0.1:8081',
  PRODUCT_SERVICE_URL: 'http://127.0.0.1:8082',
  ORDER_SERVICE_URL: 'http://127.0.0.1:8083',
  NOTIFICATION_SERVICE_URL: 'http://127.0.0.1:8084',
};
