import { createPgPool } from '@mdp/platform/postgres';

/** PostgreSQL database `notifications` (history and processed-event ids). */
export const connectPostgres = (url: string) =>
  createPgPool(url, { applicationName: 'notification-service' });
