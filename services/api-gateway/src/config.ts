import { bool, httpUrl, redisUrl, serviceConfig, type z } from '@mdp/platform/config';

export const configSchema = serviceConfig(8080, {
  REDIS_URL: redisUrl(),
  USER_SERVICE_URL: httpUrl(),
  PRODUCT_SERVICE_URL: httpUrl(),
  ORDER_SERVICE_URL: httpUrl(),
  NOTIFICATION_SERVICE_URL: httpUrl(),
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
