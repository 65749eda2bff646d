import type { EventData } from '@mdp/contracts/events';
import type { Logger } from '@mdp/platform/logger';
import { type RankingExperiment, type RankingVariant, rankPage } from './experiment.js';
import * as P from './product.js';

/** Read cache port. Every method degrades silently (a miss, a no-op) when the cache is away. */
export interface ProductCache {
  getProduct(id: string): Promise<P.Product | undefined>;
  setProduct(product: P.Product): Promise<void>;
  /** Read-through for a list page: the cached page, or `load()` (then cached unless it has no items). */
  list(query: P.ListQuery, load: () => Promise<P.Page>): Promise<P.Page>;
  /** Drops the products' entries and every cached list page. */
  invalidate(ids: string[]): Promise<void>;
}

export type StockLowEvent = EventData<'product.stock_low'>;

/** Where `product.stock_low` goes (RabbitMQ in production), best effort (see the contract's `Delivery`). */
export interface CatalogEvents {
  stockLow(event: StockLowEvent): Promise<void>;
}

export const MAX_LIMIT = 100;
export const DEFAULT_LIMIT = 20;
/**
 * Which list pages may be cached, so that anonymous traffic cannot fill Redis with one entry per
 * distinct query (issue 15): no free-text search (`q` is unbounded), page sizes from this short
 * list only, and (in the cache) no empty page, so a made-up category stores nothing. What remains
 * is bounded by the catalog itself: categories × these sizes × pages, per cache generation.
 */
export const CACHEABLE_LIMITS: ReadonlySet<number> = new Set([10, DEFAULT_LIMIT, 50, MAX_LIMIT]);
export const cacheableList = (q: P.ListQuery) => q.q === undefined && CACHEABLE_LIMITS.has(q.limit);

/** The catalog's use cases: reads through the cache, writes invalidate it, stock thresholds raise events. */
export class Catalog {
  constructor(
    private readonly deps: {
      repo: P.ProductRepository;
      cache: ProductCache;
      events: CatalogEvents;
      logger: Logger;
      stockLowThreshold: number;
      /** The `catalog.ranking` A/B experiment; without it every list is the control ranking. */
      experiment?: RankingExperiment;
    },
  ) {}

  /** A page of the catalog; for a signed-in `userId`, ranked by their `catalog.ranking` variant. */
  async list(query: Partial<P.ListQuery>, userId?: string): Promise<P.Page> {
    const q: P.ListQuery = {
      q: query.q?.trim() || undefined,
      category: query.category || undefined,
      limit: Math.min(Math.max(query.limit ?? DEFAULT_LIMIT, 1), MAX_LIMIT),
      cursor: query.cursor || undefined,
    };
    // A cursor this API did not make is refused before the cache (no entry per garbage cursor).
    if (q.cursor) P.decodeCursor(q.cursor);
    const control: RankingVariant = 'control';
    const [page, variant] = await Promise.all([
      cacheableList(q) ? this.deps.cache.list(q, () => this.deps.repo.list(q)) : this.deps.repo.list(q),
      this.deps.experiment?.variantFor(userId) ?? control,
    ]);
    // Ranked within the page (the cached page is shared by every variant; cursors stay valid).
    return variant === 'control' ? page : { ...page, items: rankPage(page.items, variant) };
  }

  async get(id: string): Promise<P.Product | null> {
    const cached = await this.deps.cache.getProduct(id);
    if (cached) return cached;
    const product = await this.deps.repo.get(id);
    if (product) await this.deps.cache.setProduct(product);
    return product;
  }

  async create(input: P.NewProduct): Promise<P.Product> {
    const product = await this.deps.repo.create(input);
    await this.deps.cache.invalidate([product.id]);
    return product;
  }

  async update(id: string, patch: P.ProductPatch): Promise<P.Product | null> {
    const before = patch.stock === undefined ? null : await this.deps.repo.get(id);
    const product = await this.deps.repo.update(id, patch);
    await this.deps.cache.invalidate([id]);
    if (product && before) this.checkThreshold(product, before.stock, product.stock);
    return product;
  }

  /** Reserves stock for an order; `userId` (who places it) counts the experiment's conversion. */
  async reserve(orderId: string, lines: P.ReserveLine[], userId?: string): Promise<P.Reservation> {
    const reservation = await this.deps.repo.reserve(orderId, P.normalizeLines(lines));
    if (reservation.changed) {
      // The order is placed (a replay of the same order id changes nothing and counts nothing).
      await this.deps.experiment?.orderPlaced(userId);
      await this.deps.cache.invalidate(reservation.lines.map((l) => l.productId));
      for (const l of reservation.lines)
        this.checkThreshold({ id: l.productId, sku: l.sku, name: l.name }, l.stockBefore, l.stock);
    }
    return reservation;
  }

  async release(orderId: string): Promise<P.Reservation> {
    const reservation = await this.deps.repo.release(orderId);
    if (reservation.changed) await this.deps.cache.invalidate(reservation.lines.map((l) => l.productId));
    return reservation;
  }

  /** Raises `product.stock_low` once per downward crossing of the threshold. */
  private checkThreshold(p: Pick<P.Product, 'id' | 'sku' | 'name'>, before: number, after: number): void {
    const threshold = this.deps.stockLowThreshold;
    if (!(before >= threshold && after < threshold)) return;
    const event = { productId: p.id, sku: p.sku, name: p.name, stock: after, threshold };
    // Best effort after the commit (the contract's delivery for it): a lost stock_low is a late
    // restock alert, not lost money.
    this.deps.events.stockLow(event).catch((err) => {
      this.deps.logger.warn({ err, productId: p.id }, 'product.stock_low not published');
    });
  }
}
