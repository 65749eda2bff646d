import type { ProductRepository } from '../domain/product.js';
import { MongoProductRepository } from './mongodb.js';
import { PostgresProductRepository } from './postgres.js';

export type CatalogDb = ProductRepository & { check: () => Promise<void> };

/** The scheme of PRODUCT_DB_URL picks the catalog store. */
export function connectCatalogDb(url: string): CatalogDb {
  return url.startsWith('mongodb') ? new MongoProductRepository(url) : new PostgresProductRepository(url);
}
