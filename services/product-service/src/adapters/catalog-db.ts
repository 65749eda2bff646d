import type { ProductRepository } from '../domain/product.js';
import { MongoProductRepository } from './mongodb.js';
import { PostgresProductRepository } from './postgres.js';

export type CatalogDb = ProductRepository & { check: () => Promise<void> };

/**
 * The scheme of PRODUCT_DB_URL picks the catalog store. PostgreSQL's tables come from its
 * migrations (applied by the kit's migration rule or the migration Job); on MongoDB a missing
 * collection and its indexes are created here (idempotent).
 */
export async function openCatalogDb(url: string): Promise<CatalogDb> {
  if (!url.startsWith('mongodb')) return new PostgresProductRepository(url);
  const repo = new MongoProductRepository(url);
  await repo.ensureSchema();
  return repo;
}
