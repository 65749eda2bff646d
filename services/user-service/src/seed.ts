/**
 * Seeds user-service's database for `npm start` and dev: one administrator, only when the
 * `users` table is empty (so it never touches real data and can run on every start).
 * Email and password from SEED_ADMIN_EMAIL / SEED_ADMIN_PASSWORD. Without a password, outside
 * production, it loads the users part of databases/postgresql/demo-seed/seed.sql instead (the admin whose
 * demo password is in .env.example); in production without a password it does nothing.
 *   node --conditions=mdp-source --import tsx services/user-service/src/seed.ts
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '@mdp/platform/paths';
import { createPgPool } from '@mdp/platform/postgres';
import { commandSetting } from '@mdp/platform/service';
import type pg from 'pg';
import { Argon2Passwords } from './adapters/passwords.js';
import { definition } from './config.js';
import { normaliseEmail, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, validEmail } from './domain/users.js';

export const SEED_ADMIN_ID = '00000000-0000-4000-8000-000000000001';

export async function seedUsers(
  pool: pg.Pool,
  admin: { email: string; password: string; name?: string },
  passwords = new Argon2Passwords(),
): Promise<boolean> {
  const email = normaliseEmail(admin.email);
  if (!validEmail(email)) throw new Error('SEED_ADMIN_EMAIL is not a valid address');
  const length = [...admin.password].length;
  if (length < PASSWORD_MIN_LENGTH || length > PASSWORD_MAX_LENGTH)
    throw new Error(
      `SEED_ADMIN_PASSWORD must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`,
    );
  const hash = await passwords.hash(admin.password);
  // One statement: inserts only into an empty table; a concurrent seeder inserts nothing.
  const { rowCount } = await pool.query(
    `INSERT INTO users (id, email, name, role, password_hash)
     SELECT $1, $2, $3, 'admin', $4 WHERE NOT EXISTS (SELECT 1 FROM users)
     ON CONFLICT DO NOTHING`,
    [SEED_ADMIN_ID, email, admin.name ?? 'Shop Admin', hash],
  );
  return (rowCount ?? 0) > 0;
}

/** The users part of databases/postgresql/demo-seed/seed.sql (between `\connect users` and the next `\connect`). */
export function usersSeedSql(file: string): string {
  const sql = readFileSync(file, 'utf8');
  const start = sql.indexOf('\\connect users');
  if (start < 0) throw new Error(`${file} has no users section`);
  const rest = sql.slice(start + '\\connect users'.length);
  const end = rest.indexOf('\\connect');
  return end >= 0 ? rest.slice(0, end) : rest;
}

/** Loads the SQL seed's users into an empty table; true if it inserted anything. */
export async function seedUsersFromSql(pool: pg.Pool, file: string): Promise<boolean> {
  const { rows } = await pool.query('SELECT EXISTS (SELECT 1 FROM users) AS present');
  if (rows[0]?.present) return false;
  await pool.query(usersSeedSql(file));
  return true;
}

export const SEED_SQL = path.resolve(
  packageRoot(import.meta.url),
  '../../databases/postgresql/demo-seed/seed.sql',
);

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const url = commandSetting(definition, 'DATABASE_URL');
  const password = process.env.SEED_ADMIN_PASSWORD;
  const fromSql = !password && process.env.NODE_ENV !== 'production' && existsSync(SEED_SQL);
  if (!password && !fromSql) {
    process.stdout.write('user-service seed: SEED_ADMIN_PASSWORD not set; nothing seeded\n');
    process.exit(0);
  }
  const pool = createPgPool(url, { applicationName: 'user-service-seed' });
  try {
    const created = password
      ? await seedUsers(pool, { email: process.env.SEED_ADMIN_EMAIL ?? 'admin@mdp.local', password })
      : await seedUsersFromSql(pool, SEED_SQL);
    process.stdout.write(
      `user-service seed: ${created ? `admin created${fromSql ? ' (from seed.sql)' : ''}` : 'users present; nothing to do'}\n`,
    );
  } catch (err) {
    process.stderr.write(`user-service seed failed: ${(err as Error).message}\n`);
    process.exitCode = 1;
  } finally {
    await pool.end();
  }
}
