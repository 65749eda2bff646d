import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { generateSigningKeys, type Role, signAccessToken } from '@mdp/platform/auth';
import { Health } from '@mdp/platform/health';
import type { HttpApp } from '@mdp/platform/http';
import { createLogger } from '@mdp/platform/logger';
import { Metrics } from '@mdp/platform/metrics';
import { migrate } from '@mdp/platform/postgres';
import { requireService, signServiceToken } from '@mdp/platform/service-tokens';
import { tempDatabase } from '@mdp/platform/testing';
import { PostgresProductRepository } from '../src/adapters/postgres.js';
import { type AppDeps, buildApp } from '../src/app.js';
import { definition } from '../src/config.js';

/** A per-suite Ed25519 key pair and a signer for access tokens exactly like user-service's. */
export async function tokenKit() {
  const { privateKey, publicKey } = await generateSigningKeys();
  const sign = async (sub: string = randomUUID(), role: Role = 'customer') =>
    (await signAccessToken({ id: sub, role }, privateKey)).token;
  return { publicPem: publicKey, sign };
}

/** The service-token key pair of this test process (order-service's JWT_SERVICE_* in production). */
const service = generateKeyPairSync('ed25519');
export const serviceKeys = {
  privateKey: service.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  publicKey: service.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
};

/** product-service's guard of /internal as server.ts builds it, on this process's key. */
export const internalAuth = requireService({
  publicKey: serviceKeys.publicKey,
  audience: 'product-service',
  allowedCallers: ['order-service'],
});

/** `authorization` for an internal call, as order-service sends it (or as `caller` would). */
export async function serviceAuth(caller = 'order-service'): Promise<{ authorization: string }> {
  const { token } = await signServiceToken({
    service: caller,
    audience: 'product-service',
    privateKey: serviceKeys.privateKey,
  });
  return { authorization: `Bearer ${token}` };
}

/** A fresh PostgreSQL catalog database with its migrations applied, and a repository on it. */
export async function migratedCatalog(prefix: string, opts: { max?: number } = {}) {
  const db = await tempDatabase(prefix);
  await migrate(db.url, definition.migrations?.dir as string);
  return { db, repo: new PostgresProductRepository(db.url, opts) };
}

/**
 * buildApp with a test's quiet defaults (silent logger, its own registry without default metrics,
 * stock-low events dropped: api.test.ts covers them over RabbitMQ); `deps` overrides any of them.
 */
export function quietApp(deps: Pick<AppDeps, 'catalog' | 'redis' | 'auth'> & Partial<AppDeps>): HttpApp {
  return buildApp({
    info: { service: 'product-service', version: 't', commit: 't' },
    logger: createLogger({ service: 'product-service', level: 'silent' }),
    metrics: new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false }),
    health: new Health(),
    events: { stockLow: async () => {} },
    internalAuth,
    ...deps,
  });
}
