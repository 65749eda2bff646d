/**
 * In-memory fakes of the order domain's ports, for unit tests without any datastore or
 * product-service. Each records what it was asked and can be told to fail.
 */
import { checkOrderLimits, type Holdings, type OrderLimits, unitsOf } from '../src/domain/limits.js';
import type { Order } from '../src/domain/order.js';
import {
  type DomainEvent,
  type IdempotentResult,
  type Inventory,
  InventoryUnavailableError,
  type OrderStore,
  type ReservedLine,
  type ReserveItem,
  StockRefusedError,
} from '../src/domain/ports.js';

/** A catalog of products with stock; reserve/release idempotent per order id, like product-service's. */
export class FakeInventory implements Inventory {
  readonly stock = new Map<string, number>();
  readonly reservations = new Map<string, ReserveItem[]>();
  readonly released = new Set<string>();
  readonly calls: string[] = [];
  /** Make the next reserve fail after taking the stock (a timeout: applied, answer lost). */
  failReserveAfterApplying: InventoryUnavailableError | undefined;
  /** Make reserve fail before doing anything (e.g. an open circuit). */
  failReserve: Error | undefined;
  /** How many releases fail before they work again. */
  failReleases = 0;

  constructor(products: Record<string, number>) {
    for (const [id, n] of Object.entries(products)) this.stock.set(id, n);
  }

  async reserve(orderId: string, items: ReserveItem[]): Promise<ReservedLine[]> {
    this.calls.push(`reserve ${orderId}`);
    if (this.failReserve) throw this.failReserve;
    if (this.released.has(orderId)) throw new StockRefusedError('already_released', 'released');
    if (!this.reservations.has(orderId)) {
      for (const i of items) {
        const left = this.stock.get(i.productId);
        if (left === undefined) throw new StockRefusedError('unknown_product', 'unknown', i.productId);
        if (left < i.quantity) throw new StockRefusedError('insufficient_stock', 'short', i.productId);
      }
      for (const i of items) this.stock.set(i.productId, (this.stock.get(i.productId) ?? 0) - i.quantity);
      this.reservations.set(orderId, items);
    }
    const lost = this.failReserveAfterApplying;
    if (lost) {
      this.failReserveAfterApplying = undefined;
      throw lost;
    }
    return items.map((i) => ({
      productId: i.productId,
      sku: `SKU-${i.productId}`,
      name: `Product ${i.productId}`,
      quantity: i.quantity,
      unitPrice: { amount: 1000, currency: 'EUR' },
    }));
  }

  async release(orderId: string): Promise<void> {
    this.calls.push(`release ${orderId}`);
    if (this.failReleases > 0) {
      this.failReleases--;
      throw new InventoryUnavailableError('product-service unavailable');
    }
    if (this.released.has(orderId)) return;
    this.released.add(orderId);
    for (const i of this.reservations.get(orderId) ?? [])
      this.stock.set(i.productId, (this.stock.get(i.productId) ?? 0) + i.quantity);
  }
}

/** Orders, idempotency keys, the outbox (as a list of events) and pending releases, in memory. */
export class FakeOrderStore implements OrderStore {
  readonly orders = new Map<string, Order>();
  readonly keys = new Map<string, IdempotentResult>();
  readonly outbox: DomainEvent[] = [];
  readonly pendingReleases = new Map<string, string>();
  /** Make the next insert fail (the database went away mid-request). */
  failInsert: Error | undefined;
  /** The next insert finds its key taken by this (a concurrent request won). */
  keyTakenBy: IdempotentResult | undefined;
  /** The next saveTransition finds the order changed under it. */
  changedUnder: Order | undefined;

  async findByIdempotencyKey(userId: string, key: string) {
    return this.keys.get(`${userId}:${key}`) ?? null;
  }

  /** Like the PostgreSQL store's order_limits_check: `windowHours` > 0 counts orders of the last hours by createdAt. */
  private holdingsNow(userId: string, productIds: string[], windowHours: number): Holdings {
    const since = windowHours > 0 ? Date.now() - windowHours * 3_600_000 : -Infinity;
    const open = [...this.orders.values()].filter(
      (o) => o.userId === userId && o.status !== 'cancelled' && Date.parse(o.createdAt) > since,
    );
    const units: Record<string, number> = {};
    for (const o of open)
      for (const [pid, n] of unitsOf(o.items))
        if (productIds.includes(pid)) units[pid] = (units[pid] ?? 0) + n;
    return { openOrders: open.length, units };
  }

  async insert(
    order: Order,
    event: DomainEvent,
    idempotency?: { key: string; requestHash: string },
    limits?: OrderLimits,
  ) {
    if (this.failInsert) {
      const err = this.failInsert;
      this.failInsert = undefined;
      throw err;
    }
    if (idempotency && this.keyTakenBy) {
      const existing = this.keyTakenBy;
      this.keyTakenBy = undefined;
      this.keys.set(`${order.userId}:${idempotency.key}`, existing);
      return { inserted: false as const, existing };
    }
    // Check and insert with no await in between: atomic, as the store's transaction is.
    if (limits)
      checkOrderLimits(
        limits,
        this.holdingsNow(order.userId, [...unitsOf(order.items).keys()], limits.windowHours),
        order.items,
      );
    this.orders.set(order.id, order);
    if (idempotency)
      this.keys.set(`${order.userId}:${idempotency.key}`, { requestHash: idempotency.requestHash, order });
    this.outbox.push(event);
    return { inserted: true as const };
  }

  async get(id: string) {
    return this.orders.get(id) ?? null;
  }

  async listByUser(userId: string, opts: { limit: number; after?: { createdAt: string; id: string } }) {
    const key = (o: Order) => `${o.createdAt}|${o.id}`;
    return [...this.orders.values()]
      .filter((o) => o.userId === userId)
      .sort((a, b) => (key(a) < key(b) ? 1 : -1))
      .filter((o) => !opts.after || key(o) < `${opts.after.createdAt}|${opts.after.id}`)
      .slice(0, opts.limit);
  }

  async saveTransition(order: Order, from: Order['status'], event: DomainEvent) {
    if (this.changedUnder) {
      this.orders.set(order.id, this.changedUnder);
      this.changedUnder = undefined;
    }
    if (this.orders.get(order.id)?.status !== from) return false;
    this.orders.set(order.id, order);
    this.outbox.push(event);
    return true;
  }

  async recordPendingRelease(orderId: string, reason: string) {
    if (!this.pendingReleases.has(orderId)) this.pendingReleases.set(orderId, reason);
  }

  async takePendingReleases(limit: number) {
    return [...this.pendingReleases.keys()].slice(0, limit);
  }

  async clearPendingRelease(orderId: string) {
    this.pendingReleases.delete(orderId);
  }
}
