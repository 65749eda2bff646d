import { createPgPool } from '@mdp/platform/postgres';

/** PostgreSQL database `users`. */
export const connectPostgres = (url: string) => createPgPool(url, { applicationName: 'user-service' });
