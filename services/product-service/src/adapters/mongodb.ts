import { randomUUID } from 'node:crypto';
import { type Collection, type Db, type IndexDescription, MongoClient, MongoServerError } from 'mongodb';
import type {
  ListQuery,
  NewProduct,
  Page,
  Product,
  ProductPatch,
  ProductRepository,
  Reservation,
  ReservedLine,
  ReserveLine,
} from '../domain/product.js';
import { DuplicateSkuError, decodeCursor, encodeCursor, ReservationError } from '../domain/product.js';

interface ProductDoc extends Omit<Product, 'id'> {
  _id: string;
  createdAt: Date;
  updatedAt: Date;
}

interface ReservationDoc {
  _id: string;
  /** 'pending' while a reserve is in progress (its stock decrements may be partly done). */
  status: 'pending' | 'reserved' | 'released';
  lines: ReservedLine[];
  createdAt: Date;
  updatedAt: Date;
}

const toProduct = (d: ProductDoc): Product => ({
  id: d._id,
  sku: d.sku,
  name: d.name,
  description: d.description,
  category: d.category,
  price: { amount: Number(d.price.amount), currency: d.price.currency },
  stock: Number(d.stock),
});

/**
 * The same validator and indexes as databases/mongodb/init.js, so a fresh database works
 * even when init.js was not run (ensureSchema() is idempotent).
 */
export const PRODUCT_VALIDATOR = {
  $jsonSchema: {
    bsonType: 'object',
    required: ['_id', 'sku', 'name', 'description', 'category', 'price', 'stock'],
    properties: {
      _id: { bsonType: 'string' },
      sku: { bsonType: 'string', minLength: 1 },
      name: { bsonType: 'string', minLength: 1 },
      description: { bsonType: 'string' },
      category: { bsonType: 'string', minLength: 1 },
      price: {
        bsonType: 'object',
        required: ['amount', 'currency'],
        properties: {
          amount: { bsonType: ['int', 'long', 'double'], minimum: 0, multipleOf: 1 },
          currency: { bsonType: 'string', pattern: '^[A-Z]{3}$' },
        },
      },
      stock: { bsonType: ['int', 'long', 'double'], minimum: 0, multipleOf: 1 },
    },
  },
};

const isDuplicate = (err: unknown) => err instanceof MongoServerError && err.code === 11000;

/**
 * MongoDB features the adapter's `ensureSchema()` uses that a MongoDB-compatible server may refuse.
 * Production (MongoDB 7) keeps both on. FerretDB v1 answers NotImplemented (code 238) to both,
 * so its test turns them off — and `list({ q })` then fails on such a server (no `$text`).
 */
export interface MongoFeatures {
  /** Create `products` with the $jsonSchema validator (default true). */
  validator?: boolean;
  /** Create the `text_search` text index behind `list({ q })` (default true). */
  textIndex?: boolean;
}

/**
 * MongoDB database `catalog` (production), official driver. Stock changes are single-document
 * atomic `$inc` with a `stock >= n` guard (never below zero, no transaction needed); a
 * multi-line reservation that fails part-way gives back what it took before answering.
 */
export class MongoProductRepository implements ProductRepository {
  readonly kind = 'mongodb' as const;
  readonly client: MongoClient;
  readonly db: Db;
  private readonly products: Collection<ProductDoc>;
  private readonly reservations: Collection<ReservationDoc>;

  private readonly features: Required<MongoFeatures>;

  constructor(url: string, features: MongoFeatures = {}) {
    this.features = { validator: true, textIndex: true, ...features };
    this.client = new MongoClient(url, {
      appName: 'product-service',
      serverSelectionTimeoutMS: 3000,
      connectTimeoutMS: 3000,
      socketTimeoutMS: 10_000,
      maxPoolSize: 20,
    });
    this.db = this.client.db();
    this.products = this.db.collection<ProductDoc>('products');
    this.reservations = this.db.collection<ReservationDoc>('stock_reservations');
  }

  check = async (): Promise<void> => {
    await this.db.command({ ping: 1 });
  };

  /** Creates the products collection (with its validator) if missing, and the indexes; idempotent. */
  async ensureSchema(): Promise<void> {
    await this.client.connect();
    const existing = new Set(
      (await this.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name),
    );
    // A missing collection is created with the validator; an existing one keeps its own
    // (databases/mongodb/init.js, run with admin rights, owns changes: the service's user has
    // readWrite only, which does not include collMod).
    if (!existing.has('products'))
      await this.db.createCollection(
        'products',
        this.features.validator ? { validator: PRODUCT_VALIDATOR } : {},
      );
    // One index per createIndexes call: the same on MongoDB, and FerretDB v1.24 drops the
    // connection (a server-side panic) when one call re-declares two or more existing indexes.
    const indexes: IndexDescription[] = [
      { key: { sku: 1 }, name: 'sku_unique', unique: true },
      { key: { category: 1, _id: 1 }, name: 'category_id' },
      ...(this.features.textIndex
        ? [
            {
              key: { name: 'text', description: 'text' },
              name: 'text_search',
              weights: { name: 3, description: 1 },
            } satisfies IndexDescription,
          ]
        : []),
    ];
    for (const spec of indexes) await this.products.createIndexes([spec]);
    await this.reservations.createIndexes([{ key: { status: 1, updatedAt: 1 }, name: 'status_updated' }]);
  }

  async list(query: ListQuery): Promise<Page> {
    const filter: Record<string, unknown> = {};
    if (query.q) filter.$text = { $search: query.q };
    if (query.category) filter.category = query.category;
    if (query.cursor) {
      const after = decodeCursor(query.cursor);
      filter._id = { $gt: after };
    }
    const docs = await this.products
      .find(filter)
      .sort({ _id: 1 })
      .limit(query.limit + 1)
      .maxTimeMS(5000)
      .toArray();
    const items = docs.slice(0, query.limit).map(toProduct);
    const last = items.at(-1);
    return { items, nextCursor: docs.length > query.limit && last ? encodeCursor(last.id) : null };
  }

  async get(id: string): Promise<Product | null> {
    const doc = await this.products.findOne({ _id: id }, { maxTimeMS: 5000 });
    return doc ? toProduct(doc) : null;
  }

  async create(input: NewProduct): Promise<Product> {
    const now = new Date();
    const doc: ProductDoc = { _id: randomUUID(), ...input, createdAt: now, updatedAt: now };
    try {
      await this.products.insertOne(doc);
    } catch (err) {
      if (isDuplicate(err)) throw new DuplicateSkuError(input.sku);
      throw err;
    }
    return toProduct(doc);
  }

  async update(id: string, patch: ProductPatch): Promise<Product | null> {
    try {
      const doc = await this.products.findOneAndUpdate(
        { _id: id },
        { $set: { ...patch, updatedAt: new Date() } },
        { returnDocument: 'after' },
      );
      return doc ? toProduct(doc) : null;
    } catch (err) {
      if (isDuplicate(err) && patch.sku) throw new DuplicateSkuError(patch.sku);
      throw err;
    }
  }

  private async giveBack(
    lines: Pick<ReservedLine, 'productId' | 'quantity'>[],
  ): Promise<Map<string, number>> {
    const stock = new Map<string, number>();
    for (const l of lines) {
      const doc = await this.products.findOneAndUpdate(
        { _id: l.productId },
        { $inc: { stock: l.quantity }, $set: { updatedAt: new Date() } },
        { returnDocument: 'after' },
      );
      if (doc) stock.set(l.productId, Number(doc.stock));
    }
    return stock;
  }

  /** The reservation document of an order id, created in `status`; a duplicate key if it exists. */
  private claim(orderId: string, status: 'pending' | 'released', now: Date) {
    return this.reservations.insertOne({ _id: orderId, status, lines: [], createdAt: now, updatedAt: now });
  }

  async reserve(orderId: string, lines: ReserveLine[]): Promise<Reservation> {
    try {
      await this.claim(orderId, 'pending', new Date());
    } catch (err) {
      if (!isDuplicate(err)) throw err;
      const existing = await this.reservations.findOne({ _id: orderId });
      if (existing?.status === 'reserved')
        return { orderId, status: 'reserved', lines: existing.lines, changed: false };
      // 'pending': another call for this order id is in progress (the caller retries);
      // 'released': too late.
      throw new ReservationError(existing?.status === 'pending' ? 'in_progress' : 'already_released');
    }
    const taken: ReservedLine[] = [];
    try {
      for (const line of lines) {
        const doc = await this.products.findOneAndUpdate(
          { _id: line.productId, stock: { $gte: line.quantity } },
          { $inc: { stock: -line.quantity }, $set: { updatedAt: new Date() } },
          { returnDocument: 'after' },
        );
        if (!doc) {
          const exists = await this.products.countDocuments({ _id: line.productId }, { limit: 1 });
          throw new ReservationError(exists ? 'insufficient_stock' : 'unknown_product', line.productId);
        }
        taken.push({
          productId: line.productId,
          sku: doc.sku,
          name: doc.name,
          quantity: line.quantity,
          unitPrice: { amount: Number(doc.price.amount), currency: doc.price.currency },
          stock: Number(doc.stock),
          stockBefore: Number(doc.stock) + line.quantity,
        });
      }
    } catch (err) {
      // All or nothing: give back what this call took, and forget the attempt.
      await this.giveBack(taken);
      await this.reservations.deleteOne({ _id: orderId, status: 'pending' });
      throw err;
    }
    const done = await this.reservations.updateOne(
      { _id: orderId, status: 'pending' },
      { $set: { status: 'reserved', lines: taken, updatedAt: new Date() } },
    );
    if (done.matchedCount === 0) {
      // A release for this order id came while we were reserving: it wins, we give back.
      await this.giveBack(taken);
      throw new ReservationError('already_released');
    }
    return { orderId, status: 'reserved', lines: taken, changed: true };
  }

  async release(orderId: string): Promise<Reservation> {
    const now = new Date();
    try {
      // Never reserved: a tombstone so a late reserve for this order id is refused.
      await this.claim(orderId, 'released', now);
      return { orderId, status: 'released', lines: [], changed: false };
    } catch (err) {
      if (!isDuplicate(err)) throw err;
    }
    // Only one caller wins the reserved → released transition, so stock is given back once.
    const won = await this.reservations.findOneAndUpdate(
      { _id: orderId, status: { $in: ['reserved', 'pending'] } },
      { $set: { status: 'released', updatedAt: now } },
      { returnDocument: 'before' },
    );
    if (won?.status === 'pending') {
      // The reserve in progress sees the release and gives its stock back itself.
      return { orderId, status: 'released', lines: [], changed: false };
    }
    if (!won) {
      const existing = await this.reservations.findOne({ _id: orderId });
      return { orderId, status: 'released', lines: existing?.lines ?? [], changed: false };
    }
    const stock = await this.giveBack(won.lines);
    const given = won.lines.map((l) => {
      const s = stock.get(l.productId) ?? 0;
      return { ...l, stock: s, stockBefore: s - l.quantity };
    });
    return { orderId, status: 'released', lines: given, changed: true };
  }

  async seed(products: Product[]): Promise<number> {
    if (await this.products.estimatedDocumentCount()) return 0;
    const now = new Date();
    let n = 0;
    for (const { id, ...rest } of products) {
      const r = await this.products.updateOne(
        { _id: id },
        { $setOnInsert: { ...rest, createdAt: now, updatedAt: now } },
        { upsert: true },
      );
      n += r.upsertedCount;
    }
    return n;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
