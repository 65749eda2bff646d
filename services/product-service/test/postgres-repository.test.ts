import { migratedCatalog } from './helpers.js';
import { repositoryContract } from './repository.contract.js';

repositoryContract('PostgreSQL (JSONB documents)', async () => {
  const { db, repo } = await migratedCatalog('catalog', { max: 30 });
  return { repo, drop: db.drop };
});
