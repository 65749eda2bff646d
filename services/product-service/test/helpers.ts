import { randomUUID } from 'node:crypto';
import { generateSigningKeys, type Role, signAccessToken } from '@mdp/platform/auth';
import { migrate } from '@mdp/platform/postgres';
import { tempDatabase } from '@mdp/platform/testing';
import { PostgresProductRepository } from '../src/adapters/postgres.js';
import { definition } from '../src/config.js';

/** A per-suite Ed25519 key pair and a signer for access tokens exactly like user-service's. */
export async function tokenKit() {
  const { privateKey, publicKey } = await generateSigningKeys();
  const sign = async (sub: string = randomUUID(), role: Role = 'customer') =>
    (await signAccessToken({ id: sub, role }, privateKey)).token;
  return { publicPem: publicKey, sign };
}

/** A fresh PostgreSQL catalog database with its migrations applied, and a repository on it. */
export async function migratedCatalog(prefix: string, opts: { max?: number } = {}) {
  const db = await tempDatabase(prefix);
  await migrate(db.url, definition.migrations?.dir as string);
  return { db, repo: new PostgresProductRepository(db.url, opts) };
}
