import path from 'node:path';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import type { Logger } from './logger.js';

export interface PgOptions {
  applicationName: string;
  max?: number;
  /**
   * Connections the pool keeps open when idle (default 0, at most max): the ones warmPool opens at
   * start stay warm instead of being closed after 30 s idle.
   */
  min?: number;
  /** Connect timeout, statement timeout and client-side query timeout share this budget. */
  timeoutMs?: number;
}

/** A pool where every call is bounded in time: nothing waits on PostgreSQL forever. */
export function createPgPool(connectionString: string, opts: PgOptions): pg.Pool {
  const timeout = opts.timeoutMs ?? 5000;
  const max = opts.max ?? 10;
  const pool = new pg.Pool({
    connectionString,
    application_name: opts.applicationName,
    max,
    min: Math.min(opts.min ?? 0, max),
    connectionTimeoutMillis: timeout,
    idleTimeoutMillis: 30_000,
    statement_timeout: timeout,
    query_timeout: timeout + 500,
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  // Nor may a checked-out client between two queries (a transaction waiting on a broker
  // confirm, say) when its server goes away — a failover terminates every session with 57P01.
  // pg-pool listens only on idle clients; the error reaches the next query on this client.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/**
 * Opens the pool's `min` connections at once and runs `statements` on each, so that the first requests of a new process (a canary's) do not pay PostgreSQL's
 * per-session start-up: a new backend fills its catalog caches, and PL/pgSQL compiles a function
 * and plans its statements on the first call in each session (order-service's order_limits_check:
 * 13–27 ms on its first call in a session, 1–5 ms after, on this two-core machine). The pool keeps
 * them open (`min`). Never throws: with the database down
 * the process still starts and /readyz reports it; the result says how many connections were warmed
 * and the first error.
 */
export async function warmPool(
  pool: pg.Pool,
  statements: readonly (string | pg.QueryConfig)[],
): Promise<{ warmed: number; error?: Error }> {
  const results = await Promise.allSettled(
    Array.from({ length: pool.options.min ?? 0 }, async () => {
      const client = await pool.connect();
      try {
        for (const s of statements) await client.query(s);
        client.release();
      } catch (err) {
        // A client whose statement failed is closed, not kept warm.
        client.release(err as Error);
        throw err;
      }
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  return {
    warmed: results.filter((r) => r.status === 'fulfilled').length,
    ...(failed ? { error: failed.reason as Error } : {}),
  };
}

export const pgCheck = (pool: pg.Pool) => async () => {
  await pool.query('SELECT 1');
};

/** Replaces the database name in a PostgreSQL URL. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export const databaseName = (url: string) => decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** Runs `fn` on a short-lived connection to the `postgres` maintenance database of `url`'s server. */
async function withAdmin<T>(url: string, fn: (admin: pg.Client, name: string) => Promise<T>): Promise<T> {
  const name = databaseName(url);
  if (!IDENT.test(name)) throw new Error(`refusing unusual database name ${JSON.stringify(name)}`);
  const admin = new pg.Client({
    connectionString: withDatabase(url, 'postgres'),
    connectionTimeoutMillis: 5000,
  });
  await admin.connect();
  try {
    return await fn(admin, name);
  } finally {
    await admin.end();
  }
}

/** Creates the database if it does not exist; true when this call created it. */
export function ensureDatabase(url: string): Promise<boolean> {
  return withAdmin(url, async (admin, name) => {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return false;
    try {
      await admin.query(`CREATE DATABASE "${name}"`);
      return true;
    } catch (err) {
      // Another process created it between our check and our create (42P04), or at the
      // same moment (23505 on the pg_database catalog).
      const code = (err as { code?: string }).code;
      if (code !== '42P04' && code !== '23505') throw err;
      return false;
    }
  });
}

export function dropDatabase(url: string): Promise<void> {
  return withAdmin(url, async (admin, name) => {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  });
}

/**
 * Applies pending SQL migrations from `dir` (node-pg-migrate; files `NNNN_name.sql` with
 * `-- Up Migration` / `-- Down Migration` sections), under its advisory lock so two
 * replicas starting at once do not race. Returns the names applied.
 */
export async function migrate(url: string, dir: string, logger?: Logger): Promise<string[]> {
  const applied = await runner({
    databaseUrl: url,
    dir: path.resolve(dir),
    direction: 'up',
    migrationsTable: 'pgmigrations',
    count: Number.POSITIVE_INFINITY,
    singleTransaction: true,
    log: (msg: string) => logger?.debug({ migration: true }, msg),
  });
  return applied.map((m) => m.name);
}

/** Runs `fn` in one transaction on a pooled client: COMMIT when it resolves, ROLLBACK when it throws. */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
