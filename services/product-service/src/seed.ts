/**
 * Loads the demo catalog into an EMPTY catalog store (PostgreSQL or MongoDB, by the scheme of
 * PRODUCT_DB_URL); does nothing when products exist. `npm start` runs it after migrations (the
 * PostgreSQL store must be migrated first).
 */
import { commandSetting } from '@mdp/platform/service';
import { openCatalogDb } from './adapters/catalog-db.js';
import { definition } from './config.js';
import { DEMO_PRODUCTS } from './seed-data.js';

const store = await openCatalogDb(commandSetting(definition, 'PRODUCT_DB_URL'));
try {
  const inserted = await store.seed(DEMO_PRODUCTS);
  process.stdout.write(
    `${JSON.stringify({ level: 'info', service: 'product-service', msg: 'catalog seed', inserted })}\n`,
  );
} finally {
  await store.close();
}
