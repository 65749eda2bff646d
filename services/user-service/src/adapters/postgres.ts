import { outboxEvent } from '@mdp/contracts/events';
import type { Role } from '@mdp/platform/auth';
import { enqueueEvent } from '@mdp/platform/outbox';
import { createPgPool, withTransaction } from '@mdp/platform/postgres';
import type pg from 'pg';
import type { User, UserRepository, UserWithPassword } from '../domain/ports.js';

/** PostgreSQL database `users`. */
export const connectPostgres = (url: string) => createPgPool(url, { applicationName: 'user-service' });

const UNIQUE_VIOLATION = '23505';

interface Row {
  id: string;
  email: string;
  name: string;
  role: Role;
  password_hash: string;
}

const toUser = (r: Row): User => ({ id: r.id, email: r.email, name: r.name, role: r.role });

export class PgUserRepository implements UserRepository {
  constructor(private readonly pool: pg.Pool) {}

  async createWithEvent(u: { email: string; name: string; passwordHash: string }): Promise<User | undefined> {
    try {
      return await withTransaction(this.pool, async (client) => {
        // ON CONFLICT: a concurrent registration of the same address waits for the other
        // transaction and then inserts nothing; no exception, no 500.
        const { rows } = await client.query<Row>(
          `INSERT INTO users (email, name, password_hash, role) VALUES ($1, $2, $3, 'customer')
           ON CONFLICT ON CONSTRAINT users_email_unique DO NOTHING
           RETURNING id, email, name, role, password_hash`,
          [u.email, u.name, u.passwordHash],
        );
        const row = rows[0];
        if (!row) return undefined;
        await enqueueEvent(
          client,
          outboxEvent('user.registered', { userId: row.id, email: row.email, name: row.name }),
        );
        return toUser(row);
      });
    } catch (err) {
      if ((err as { code?: string }).code === UNIQUE_VIOLATION) return undefined;
      throw err;
    }
  }

  async findByEmail(email: string): Promise<UserWithPassword | undefined> {
    const { rows } = await this.pool.query<Row>(
      'SELECT id, email, name, role, password_hash FROM users WHERE email = $1',
      [email],
    );
    const r = rows[0];
    return r ? { ...toUser(r), passwordHash: r.password_hash } : undefined;
  }

  async findById(id: string): Promise<User | undefined> {
    const { rows } = await this.pool.query<Row>('SELECT id, email, name, role FROM users WHERE id = $1', [
      id,
    ]);
    return rows[0] ? toUser(rows[0]) : undefined;
  }

  async updatePasswordHash(id: string, passwordHash: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      'UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1',
      [id, passwordHash],
    );
    return (rowCount ?? 0) > 0;
  }

  async updateName(id: string, name: string): Promise<User | undefined> {
    const { rows } = await this.pool.query<Row>(
      'UPDATE users SET name = $2, updated_at = now() WHERE id = $1 RETURNING id, email, name, role',
      [id, name],
    );
    return rows[0] ? toUser(rows[0]) : undefined;
  }
}
