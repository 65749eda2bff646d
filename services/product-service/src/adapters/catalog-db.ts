import { connectMongo } from './mongodb.js';
import { connectPostgres } from './postgres.js';

export type CatalogDb =
  | ({ kind: 'mongodb' } & ReturnType<typeof connectMongo>)
  | ({ kind: 'postgres' } & ReturnType<typeof connectPostgres>);

/** The scheme of PRODUCT_DB_URL picks the catalog store. */
export function connectCatalogDb(url: string): CatalogDb {
  return url.startsWith('mongodb')
    ? { kind: 'mongodb', ...connectMongo(url) }
    : { kind: 'postgres', ...connectPostgres(url) };
}
