import { ACCESS_TOKEN_TTL_SECONDS } from '@mdp/platform/auth';
import type { Health } from '@mdp/platform/health';
import { createHttpApp, type HttpApp, type ServiceInfo } from '@mdp/platform/http';
import type { Logger } from '@mdp/platform/logger';
import type { Metrics } from '@mdp/platform/metrics';
import { registerOpenApi } from '@mdp/platform/openapi';
import { pgCheck } from '@mdp/platform/postgres';
import { redisCheck } from '@mdp/platform/redis';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { type LoginThrottleSettings, RedisLoginThrottle } from './adapters/login-throttle.js';
import { Argon2Passwords } from './adapters/passwords.js';
import { PgUserRepository } from './adapters/postgres.js';
import { RedisRefreshTokenStore, type RefreshTokenSettings } from './adapters/refresh-tokens.js';
import { JwtIssuer, publicKeyOf } from './adapters/tokens.js';
import { UserService } from './domain/users.js';
import { authRoutes } from './routes/auth.js';
import { userRoutes } from './routes/users.js';

export interface AppDeps {
  info: ServiceInfo;
  logger: Logger;
  metrics: Metrics;
  health: Health;
  db: Pool;
  redis: Redis;
  /** Ed25519 PKCS8 PEM (JWT_PRIVATE_KEY). */
  jwtPrivateKey: string;
  accessTokenTtlSeconds?: number;
  refreshTokens?: Partial<RefreshTokenSettings>;
  loginThrottle?: Partial<LoginThrottleSettings>;
  /** Lower argon2 cost (tests only; production uses the OWASP parameters). */
  passwordHashing?: { memoryCost: number; timeCost: number };
  bodyLimit?: number;
  /** Behind one proxy (ingress / gateway): the client IP is the one it appended to X-Forwarded-For. */
  trustProxy?: boolean;
}

export function buildApp(deps: AppDeps): HttpApp {
  // RabbitMQ is deliberately not a readiness dependency: events leave through the outbox
  // relay (server.ts), so registrations keep working while the broker is away.
  deps.health.add('postgres', pgCheck(deps.db)).add('redis', redisCheck(deps.redis));

  const users = new UserService({
    users: new PgUserRepository(deps.db),
    passwords: new Argon2Passwords(deps.passwordHashing),
    accessTokens: new JwtIssuer(deps.jwtPrivateKey, deps.accessTokenTtlSeconds ?? ACCESS_TOKEN_TTL_SECONDS),
    refreshTokens: new RedisRefreshTokenStore(deps.redis, {
      ttlSeconds: 7 * 24 * 3600,
      familyTtlSeconds: 30 * 24 * 3600,
      ...deps.refreshTokens,
    }),
    throttle: new RedisLoginThrottle(deps.redis, {
      maxFailuresPerAccount: 5,
      maxFailuresPerIp: 50,
      windowSeconds: 15 * 60,
      blockSeconds: 15 * 60,
      ...deps.loginThrottle,
    }),
    onSecurityEvent: (event, details) => deps.logger.warn({ securityEvent: event, ...details }, event),
  });
  const publicKey = publicKeyOf(deps.jwtPrivateKey);

  const app = createHttpApp({
    ...deps,
    // Trust exactly one hop (the peer that connected): the client IP is the address that proxy
    // appended to X-Forwarded-For, so a client cannot choose it by sending its own header.
    trustProxy: deps.trustProxy ? (_address: string, hop: number): boolean => hop === 0 : false,
  });
  registerOpenApi(app, {
    title: 'user-service',
    version: deps.info.version,
    description: 'Accounts, sign-in and tokens',
  });
  // Inside a plugin, so that @fastify/swagger (registered above) sees the routes.
  app.register(async (scope: HttpApp) => {
    authRoutes(scope, { users, publicKey });
    userRoutes(scope, { users, publicKey });
  });
  return app;
}
