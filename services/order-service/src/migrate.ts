import path from 'node:path';
import { packageRoot } from '@mdp/platform/paths';
import { migrateCommand } from '@mdp/platform/postgres';
import { localDefaults } from './config.js';

const url =
  process.env.DATABASE_URL ??
  (process.env.NODE_ENV === 'production' ? undefined : localDefaults.DATABASE_URL);
await migrateCommand({
  service: 'order-service',
  migrationsDir: path.join(packageRoot(import.meta.url), 'migrations'),
  url,
});
