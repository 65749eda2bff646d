import { tempDatabase } from '@mdp/platform/testing';
import { PostgresProductRepository } from '../src/adapters/postgres.js';
import { repositoryContract } from './repository.contract.js';

repositoryContract('PostgreSQL (JSONB documents)', async () => {
  const db = await tempDatabase('catalog');
  return { repo: new PostgresProductRepository(db.url, { max: 30 }), drop: db.drop };
});
