import { randomUUID } from 'node:crypto';
import { createPgPool, pgCheck, withTransaction } from '@mdp/platform/postgres';
import type pg from 'pg';
import {
  DuplicateSkuError,
  decodeCursor,
  encodeCursor,
  InvalidCursorError,
  type ListQuery,
  type NewProduct,
  type Page,
  type Product,
  type ProductPatch,
  type ProductRepository,
  type Reservation,
  ReservationError,
  type ReservedLine,
  type ReserveLine,
} from '../domain/product.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Doc = Omit<Product, 'id'>;
const toProduct = (id: string, doc: Doc): Product => ({
  id,
  sku: doc.sku,
  name: doc.name,
  description: doc.description,
  category: doc.category,
  price: { amount: Number(doc.price.amount), currency: doc.price.currency },
  stock: Number(doc.stock),
});

const numeric = (l: ReservedLine): ReservedLine => ({
  ...l,
  quantity: Number(l.quantity),
  unitPrice: { amount: Number(l.unitPrice.amount), currency: l.unitPrice.currency },
  stock: Number(l.stock),
  stockBefore: Number(l.stockBefore),
});

const REFUSALS = new Set(['insufficient_stock', 'unknown_product', 'already_released']);

/** The exceptions reserve_stock raises on purpose, as domain errors. */
function refusal(err: unknown): ReservationError | undefined {
  const e = err as { code?: string; message?: string; detail?: string };
  if (e.code !== 'P0001' || !e.message || !REFUSALS.has(e.message)) return undefined;
  return new ReservationError(e.message as ReservationError['reason'], e.detail);
}

/** PostgreSQL database `catalog`: products as JSONB documents (used where no MongoDB is configured). */
export class PostgresProductRepository implements ProductRepository {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;
  readonly check: () => Promise<void>;

  constructor(url: string, opts: { max?: number } = {}) {
    this.pool = createPgPool(url, { applicationName: 'product-service', max: opts.max ?? 10 });
    this.check = pgCheck(this.pool);
  }

  async list(query: ListQuery): Promise<Page> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.q) {
      params.push(query.q);
      where.push(`search @@ websearch_to_tsquery('english', $${params.length})`);
    }
    if (query.category) {
      params.push(query.category);
      where.push(`doc->>'category' = $${params.length}`);
    }
    if (query.cursor) {
      const after = decodeCursor(query.cursor);
      if (!UUID.test(after)) throw new InvalidCursorError();
      params.push(after);
      where.push(`id > $${params.length}`);
    }
    params.push(query.limit + 1);
    const { rows } = await this.pool.query<{ id: string; doc: Doc }>(
      `SELECT id, doc FROM products ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY id LIMIT $${params.length}`,
      params,
    );
    const items = rows.slice(0, query.limit).map((r) => toProduct(r.id, r.doc));
    const last = items.at(-1);
    return { items, nextCursor: rows.length > query.limit && last ? encodeCursor(last.id) : null };
  }

  async get(id: string): Promise<Product | null> {
    if (!UUID.test(id)) return null;
    const { rows } = await this.pool.query<{ id: string; doc: Doc }>(
      'SELECT id, doc FROM products WHERE id = $1',
      [id],
    );
    const row = rows[0];
    return row ? toProduct(row.id, row.doc) : null;
  }

  async create(input: NewProduct): Promise<Product> {
    const id = randomUUID();
    const doc: Doc = { ...input };
    try {
      await this.pool.query('INSERT INTO products (id, doc) VALUES ($1, $2)', [id, JSON.stringify(doc)]);
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new DuplicateSkuError(input.sku);
      throw err;
    }
    return toProduct(id, doc);
  }

  async update(id: string, patch: ProductPatch): Promise<Product | null> {
    if (!UUID.test(id)) return null;
    try {
      const { rows } = await this.pool.query<{ id: string; doc: Doc }>(
        'UPDATE products SET doc = doc || $2::jsonb, updated_at = now() WHERE id = $1 RETURNING id, doc',
        [id, JSON.stringify(patch)],
      );
      const row = rows[0];
      return row ? toProduct(row.id, row.doc) : null;
    } catch (err) {
      if ((err as { code?: string }).code === '23505' && patch.sku) throw new DuplicateSkuError(patch.sku);
      throw err;
    }
  }

  private tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return withTransaction(this.pool, fn);
  }

  async reserve(orderId: string, lines: ReserveLine[]): Promise<Reservation> {
    for (const line of lines)
      if (!UUID.test(line.productId)) throw new ReservationError('unknown_product', line.productId);
    try {
      // One round trip: migrations/0002_stock_functions.sql.
      const { rows } = await this.pool.query<{ r: { changed: boolean; lines: ReservedLine[] } }>(
        'SELECT reserve_stock($1, $2) AS r',
        [orderId, JSON.stringify(lines)],
      );
      const r = rows[0]?.r;
      if (!r) throw new Error('reserve_stock returned nothing');
      return { orderId, status: 'reserved', lines: r.lines.map(numeric), changed: r.changed };
    } catch (err) {
      throw refusal(err) ?? err;
    }
  }

  async release(orderId: string): Promise<Reservation> {
    const { rows } = await this.pool.query<{ r: { changed: boolean; lines: ReservedLine[] } }>(
      'SELECT release_stock($1) AS r',
      [orderId],
    );
    const r = rows[0]?.r;
    if (!r) throw new Error('release_stock returned nothing');
    return { orderId, status: 'released', lines: r.lines.map(numeric), changed: r.changed };
  }

  async seed(products: Product[]): Promise<number> {
    return this.tx(async (c) => {
      await c.query('LOCK TABLE products IN EXCLUSIVE MODE');
      const { rows } = await c.query('SELECT 1 FROM products LIMIT 1');
      if (rows.length) return 0;
      for (const { id, ...doc } of products)
        await c.query('INSERT INTO products (id, doc) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
          id,
          JSON.stringify(doc),
        ]);
      return products.length;
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
