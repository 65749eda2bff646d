import { outboxEvent } from '@mdp/contracts/events';
import { enqueueEvent, withOutboxEvent } from '@mdp/platform/outbox';
import { createPgPool, warmPool, withTransaction } from '@mdp/platform/postgres';
import type pg from 'pg';
import { OrderLimitError, type OrderLimits, unitsOf } from '../domain/limits.js';
import type { Order, OrderLine, OrderStatus } from '../domain/order.js';
import type { DomainEvent, IdempotentResult, OrderStore } from '../domain/ports.js';

/**
 * PostgreSQL database `orders` (orders and the transactional outbox); `min` connections are kept
 * open when idle (the ones warmOrderStore warms).
 */
export const connectPostgres = (url: string, max: number, min = 0) =>
  createPgPool(url, { applicationName: 'order-service', max, min });

interface Row {
  id: string;
  user_id: string;
  status: OrderStatus;
  items: OrderLine[];
  total_amount: string;
  currency: string;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, user_id, status, items, total_amount, currency, created_at, updated_at';
const toOrder = (r: Row): Order => ({
  id: r.id,
  userId: r.user_id,
  status: r.status,
  items: r.items,
  total: { amount: Number(r.total_amount), currency: r.currency },
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const O_COLUMNS = COLUMNS.split(', ')
  .map((c) => `o.${c}`)
  .join(', ');

/** Thrown inside the insert transaction when the idempotency key is taken: rolls it back. */
class KeyTaken extends Error {}

/** The SQLSTATE order_limits_check (migration 0002) raises when an order would pass a limit. */
const LIMIT_REACHED = 'OL001';

/** OL001's DETAIL (JSON) as the domain's error. */
function limitError(err: unknown): OrderLimitError | undefined {
  const e = err as { code?: string; detail?: string };
  if (e?.code !== LIMIT_REACHED || !e.detail) return undefined;
  const d = JSON.parse(e.detail) as {
    limit: OrderLimitError['limit'];
    max: number;
    held: number;
    productId?: string;
  };
  return new OrderLimitError(d.limit, d.max, d.held, d.productId);
}

/**
 * What a session runs before its first order (warmPool): order_limits_check once, for nobody with
 * every limit off, compiles the PL/pgSQL function and plans its statements (its advisory lock is on
 * the empty user id, which no customer has); the reads fill the catalog caches of the tables.
 * Nothing is written.
 */
const WARM_UP = [
  "SELECT order_limits_check('', '{}'::text[], '{}'::int[], 0, 0, 0)",
  `SELECT ${COLUMNS} FROM orders WHERE user_id = '' ORDER BY created_at DESC, id DESC LIMIT 1`,
  "SELECT order_id FROM idempotency_keys WHERE user_id = '' AND key = ''",
  'SELECT id FROM outbox LIMIT 0',
  'SELECT order_id FROM pending_releases LIMIT 0',
];

/** Opens and warms the pool's `min` sessions before the service takes traffic (see WARM_UP). */
export const warmOrderStore = (pool: pg.Pool) => warmPool(pool, WARM_UP);

export class PostgresOrderStore implements OrderStore {
  constructor(private readonly pool: pg.Pool) {}

  private tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return withTransaction(this.pool, fn);
  }

  async findByIdempotencyKey(userId: string, key: string): Promise<IdempotentResult | null> {
    const { rows } = await this.pool.query<Row & { request_hash: string }>(
      `SELECT k.request_hash, ${O_COLUMNS}
         FROM idempotency_keys k JOIN orders o ON o.id = k.order_id
        WHERE k.user_id = $1 AND k.key = $2`,
      [userId, key],
    );
    const row = rows[0];
    return row ? { requestHash: row.request_hash, order: toOrder(row) } : null;
  }

  async insert(
    order: Order,
    event: DomainEvent,
    idempotency?: { key: string; requestHash: string },
    limits?: OrderLimits,
  ): Promise<{ inserted: true } | { inserted: false; existing: IdempotentResult }> {
    const values: unknown[] = [
      order.id,
      order.userId,
      order.status,
      JSON.stringify(order.items),
      order.total.amount,
      order.total.currency,
      order.createdAt,
      order.updatedAt,
    ];
    let row = {
      sql: `INSERT INTO orders (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      params: values,
    };
    if (limits) {
      // The holding limits are checked by the statement that inserts the order (migration 0002's
      // order_limits_check: a per-user lock, then the count): still one round trip, and atomic.
      const units = unitsOf(order.items);
      row = {
        sql: `INSERT INTO orders (${COLUMNS})
              SELECT $1::uuid, $2::text, $3::text, $4::jsonb, $5::bigint, $6::char(3), $7::timestamptz, $8::timestamptz
               WHERE order_limits_check($2, $9::text[], $10::int[], $11, $12, $13)`,
        params: [
          ...values,
          [...units.keys()],
          [...units.values()],
          limits.maxOpenOrders,
          limits.maxUnitsPerProduct,
          limits.windowHours,
        ],
      };
    }
    const outbox = outboxEvent(event.type, event.data);
    try {
      // Without an idempotency key: the order and its event in one statement (one round trip).
      if (!idempotency) {
        await this.pool.query(withOutboxEvent(row, outbox));
        return { inserted: true };
      }
      await this.tx(async (c) => {
        await c.query(withOutboxEvent(row, outbox));
        const k = await c.query(
          `INSERT INTO idempotency_keys (user_id, key, request_hash, order_id) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING RETURNING key`,
          [order.userId, idempotency.key, idempotency.requestHash, order.id],
        );
        if (!k.rowCount) throw new KeyTaken();
      });
      return { inserted: true };
    } catch (err) {
      const refused = limitError(err);
      if (refused) {
        // A replay whose first order committed before ours got the user's lock: that order is the answer.
        const first = idempotency ? await this.findByIdempotencyKey(order.userId, idempotency.key) : null;
        if (first) return { inserted: false, existing: first };
        throw refused;
      }
      if (!(err instanceof KeyTaken) || !idempotency) throw err;
    }
    const existing = await this.findByIdempotencyKey(order.userId, idempotency.key);
    if (!existing) throw new Error('idempotency key conflict without a stored result');
    return { inserted: false, existing };
  }

  async get(id: string): Promise<Order | null> {
    if (!UUID.test(id)) return null;
    const { rows } = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM orders WHERE id = $1`, [id]);
    return rows[0] ? toOrder(rows[0]) : null;
  }

  async listByUser(
    userId: string,
    opts: { limit: number; after?: { createdAt: string; id: string } },
  ): Promise<Order[]> {
    const params: unknown[] = [userId, opts.limit];
    let where = 'user_id = $1';
    if (opts.after) {
      params.push(opts.after.createdAt, opts.after.id);
      where += ' AND (created_at, id) < ($3::timestamptz, $4::uuid)';
    }
    const { rows } = await this.pool.query<Row>(
      `SELECT ${COLUMNS} FROM orders WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT $2`,
      params,
    );
    return rows.map(toOrder);
  }

  async saveTransition(order: Order, from: OrderStatus, event: DomainEvent): Promise<boolean> {
    return this.tx(async (c) => {
      const res = await c.query(
        'UPDATE orders SET status = $2, updated_at = $3 WHERE id = $1 AND status = $4',
        [order.id, order.status, order.updatedAt, from],
      );
      if (!res.rowCount) return false;
      await enqueueEvent(c, outboxEvent(event.type, event.data));
      return true;
    });
  }

  async recordPendingRelease(orderId: string, reason: string): Promise<void> {
    await this.pool.query(
      'INSERT INTO pending_releases (order_id, reason) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [orderId, reason],
    );
  }

  async takePendingReleases(limit: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ order_id: string }>(
      `UPDATE pending_releases SET attempts = attempts + 1,
              next_attempt_at = now() + make_interval(secs => least(60, power(2, attempts)))
        WHERE order_id IN (SELECT order_id FROM pending_releases WHERE next_attempt_at <= now()
                            ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING order_id`,
      [limit],
    );
    return rows.map((r) => r.order_id);
  }

  async clearPendingRelease(orderId: string): Promise<void> {
    await this.pool.query('DELETE FROM pending_releases WHERE order_id = $1', [orderId]);
  }
}
