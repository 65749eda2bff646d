import path from 'node:path';
import { packageRoot } from '@mdp/platform/paths';
import { migrateCommand } from '@mdp/platform/postgres';
import { localDefaults } from './config.js';

// Migrations apply to the PostgreSQL catalog store only; MongoDB's schema (validators,
// indexes) comes from databases/mongodb/init.js.
const url =
  process.env.PRODUCT_DB_URL ??
  (process.env.NODE_ENV === 'production' ? undefined : localDefaults.PRODUCT_DB_URL);
if (url?.startsWith('mongodb')) {
  process.stdout.write('product-service: MongoDB store, no SQL migrations to apply\n');
} else {
  await migrateCommand({
    service: 'product-service',
    migrationsDir: path.join(packageRoot(import.meta.url), 'migrations'),
    url,
  });
}
