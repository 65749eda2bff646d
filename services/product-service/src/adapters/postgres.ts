import { createPgPool, pgCheck } from '@mdp/platform/postgres';

/** PostgreSQL database `catalog`, used where no MongoDB is configured. */
export function connectPostgres(url: string) {
  const pool = createPgPool(url, { applicationName: 'product-service' });
  return { pool, check: pgCheck(pool), close: () => pool.end() };
}
