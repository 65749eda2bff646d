import { jwtRouteAuth } from '@mdp/platform/auth';
import type { Flags } from '@mdp/platform/flags';
import { createHttpApp, type HttpApp } from '@mdp/platform/http';
import { pgCheck } from '@mdp/platform/postgres';
import { redisCheck } from '@mdp/platform/redis';
import type { AppKit } from '@mdp/platform/service';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { type LoginThrottleSettings, RedisLoginThrottle } from './adapters/login-throttle.js';
import { Argon2Passwords } from './adapters/passwords.js';
import { PgUserRepository } from './adapters/postgres.js';
import { RedisRefreshTokenStore, type RefreshTokenSettings } from './adapters/refresh-tokens.js';
import { JwtIssuer, publicKeyOf } from './adapters/tokens.js';
import { defaults } from './config.js';
import { UserService } from './domain/users.js';
import { errorMap } from './errors.js';
import { authRoutes } from './routes/auth.js';
import { userRoutes } from './routes/users.js';

export interface AppDeps extends Omit<AppKit, 'flags'> {
  /** Feature flags (kill switches per route); without them every operation is on (code defaults). */
  flags?: Flags;
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
    accessTokens: new JwtIssuer(
      deps.jwtPrivateKey,
      deps.accessTokenTtlSeconds ?? defaults.ACCESS_TOKEN_TTL_SECONDS,
    ),
    refreshTokens: new RedisRefreshTokenStore(deps.redis, {
      ttlSeconds: defaults.REFRESH_TOKEN_TTL_SECONDS,
      familyTtlSeconds: defaults.REFRESH_FAMILY_TTL_SECONDS,
      ...deps.refreshTokens,
    }),
    throttle: new RedisLoginThrottle(deps.redis, {
      maxFailuresPerAccount: defaults.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      maxFailuresPerIp: defaults.LOGIN_MAX_FAILURES_PER_IP,
      windowSeconds: defaults.LOGIN_FAILURE_WINDOW_SECONDS,
      blockSeconds: defaults.LOGIN_BLOCK_SECONDS,
      ...deps.loginThrottle,
    }),
    onSecurityEvent: (event, details) => deps.logger.warn({ securityEvent: event, ...details }, event),
  });
  const auth = jwtRouteAuth(publicKeyOf(deps.jwtPrivateKey));

  return createHttpApp({
    ...deps,
    trustOneProxy: deps.trustProxy ?? defaults.TRUST_PROXY,
    errors: errorMap,
    openapi: {
      title: 'user-service',
      description: 'Accounts, sign-in and tokens',
      tags: [
        { name: 'auth', description: 'Accounts and tokens: register, sign in, refresh, sign out' },
        { name: 'users', description: 'The signed-in user' },
      ],
    },
    routes: (scope) => {
      authRoutes(scope, { users, auth });
      userRoutes(scope, { users, auth });
    },
  });
}
