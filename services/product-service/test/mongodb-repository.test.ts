import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { MongoProductRepository } from '../src/adapters/mongodb.js';
import { repositoryContract } from './repository.contract.js';

/**
 * The same contract against MongoDB. No MongoDB server can be installed on this machine, so it
 * runs only where MONGODB_URL is set (e.g. mongodb://127.0.0.1:27017); each run uses its own
 * database and drops it.
 */
const base = process.env.MONGODB_URL;
if (!base) {
  test('ProductRepository contract: MongoDB', (t) => {
    t.skip('MONGODB_URL not set: no MongoDB server on this machine');
  });
} else {
  repositoryContract('MongoDB (official driver)', async () => {
    const u = new URL(base);
    u.pathname = `/test_catalog_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
    const repo = new MongoProductRepository(u.toString());
    await repo.ensureSchema();
    await repo.ensureSchema(); // idempotent
    return { repo, drop: () => Promise.resolve() };
  });
}
