import path from 'node:path';
import { generateSigningKeys } from '@mdp/platform/auth';
import { Health } from '@mdp/platform/health';
import type { HttpApp } from '@mdp/platform/http';
import { createLogger } from '@mdp/platform/logger';
import { Metrics } from '@mdp/platform/metrics';
import { packageRoot } from '@mdp/platform/paths';
import { createPgPool, migrate } from '@mdp/platform/postgres';
import { createRedis } from '@mdp/platform/redis';
import { TEST_REDIS_URL, type TempDatabase, tempDatabase, tempRedisPrefix } from '@mdp/platform/testing';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { type AppDeps, buildApp } from '../src/app.js';

export const MIGRATIONS = path.join(packageRoot(import.meta.url), 'migrations');

export interface UserServiceHarness {
  app: HttpApp;
  db: TempDatabase;
  pool: pg.Pool;
  redis: Redis;
  keys: { privateKey: string; publicKey: string };
  metrics: Metrics;
  close(): Promise<void>;
}

/**
 * The real user-service app on a fresh PostgreSQL database (migrated) and Redis key prefix,
 * with a fresh Ed25519 key pair. Cheap argon2 parameters keep the suite fast.
 */
export async function startUserService(overrides: Partial<AppDeps> = {}): Promise<UserServiceHarness> {
  const db = await tempDatabase('users');
  await migrate(db.url, MIGRATIONS);
  const prefix = tempRedisPrefix('users');
  const pool = createPgPool(db.url, { applicationName: 'user-service-test' });
  const redis = createRedis(TEST_REDIS_URL, { keyPrefix: prefix.keyPrefix });
  await redis.connect();
  const keys = await generateSigningKeys();
  const info = { service: 'user-service', version: 'test', commit: 'test' };
  const metrics = new Metrics(info, { defaultMetrics: false });
  const app = buildApp({
    info,
    logger: createLogger({ service: 'user-service', level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    metrics,
    health: new Health(),
    db: pool,
    redis,
    jwtPrivateKey: keys.privateKey,
    passwordHashing: { memoryCost: 1024, timeCost: 1 },
    trustProxy: true,
    ...overrides,
  });
  await app.ready();
  return {
    app,
    db,
    pool,
    redis,
    keys,
    metrics,
    async close() {
      await app.close();
      await pool.end();
      redis.disconnect();
      await prefix.drop();
      await db.drop();
    },
  };
}
