/**
 * Loads the demo catalog into an EMPTY catalog store (PostgreSQL or MongoDB, by the scheme of
 * PRODUCT_DB_URL); does nothing when products exist. `npm start` runs it after migrations.
 */
import { connectCatalogDb } from './adapters/catalog-db.js';
import { localDefaults } from './config.js';
import { DEMO_PRODUCTS } from './seed-data.js';

const url =
  process.env.PRODUCT_DB_URL ??
  (process.env.NODE_ENV === 'production' ? undefined : localDefaults.PRODUCT_DB_URL);
if (!url) {
  process.stderr.write('config error: PRODUCT_DB_URL is missing\n');
  process.exit(78);
}
const store = connectCatalogDb(url);
try {
  await store.init();
  const inserted = await store.seed(DEMO_PRODUCTS);
  process.stdout.write(
    `${JSON.stringify({ level: 'info', service: 'product-service', msg: 'catalog seed', inserted })}\n`,
  );
} finally {
  await store.close();
}
