import { createPgPool } from '@mdp/platform/postgres';

/** PostgreSQL database `orders` (orders and the transactional outbox). */
export const connectPostgres = (url: string) => createPgPool(url, { applicationName: 'order-service' });
