import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from '@mdp/platform/logger';
import { limitsInForce, type OrderLimits } from './limits.js';
import { newOrder, type Order, transition } from './order.js';
import {
  type DomainEvent,
  type Inventory,
  InventoryUnavailableError,
  type OrderStore,
  type ReserveItem,
} from './ports.js';

export class OrderNotFoundError extends Error {
  constructor(id: string) {
    super(`no order ${id}`);
    this.name = 'OrderNotFoundError';
  }
}

/** A pagination cursor this API did not hand out (a 400, not an empty page). */
export class InvalidCursorError extends Error {
  constructor() {
    super('the cursor is not one this API returned; start again without it');
    this.name = 'InvalidCursorError';
  }
}

export class IdempotencyKeyReusedError extends Error {
  constructor() {
    super('this Idempotency-Key was used with a different request');
    this.name = 'IdempotencyKeyReusedError';
  }
}

export interface Actor {
  id: string;
  role: string;
}

const hashRequest = (items: ReserveItem[]) =>
  createHash('sha256')
    .update(JSON.stringify(items.map((i) => [i.productId, i.quantity])))
    .digest('hex');

const createdEvent = (o: Order & { status: 'pending' | 'confirmed' }): DomainEvent => ({
  type: 'order.created',
  data: {
    orderId: o.id,
    userId: o.userId,
    status: o.status,
    items: o.items,
    total: o.total,
    createdAt: o.createdAt,
  },
});

const cancelledEvent = (o: Order): DomainEvent => ({
  type: 'order.cancelled',
  data: {
    orderId: o.id,
    userId: o.userId,
    items: o.items.map((i) => ({ productId: i.productId, quantity: i.quantity })),
    total: o.total,
    cancelledAt: o.updatedAt,
  },
});

/** The order use cases. Stock lives in the inventory; orders and their events in the store. */
export class Orders {
  constructor(
    private readonly deps: { store: OrderStore; inventory: Inventory; logger: Logger; limits: OrderLimits },
  ) {}

  /**
   * Reserves stock (priced by the catalog), then records the confirmed order and its
   * `order.created` event in one transaction. If anything after the reservation fails, the
   * reservation is released (or queued for release): no stock stays held for an order that
   * does not exist.
   *
   * Limits (issue 15, finding 8): the store checks a customer's holdings atomically with the
   * insert (concurrent placements of one customer cannot pass a limit together); a refused order's
   * reservation is released like any order that was not stored. There is no early check before
   * the reservation: it would cost every placement a round trip to spare the refused ones theirs.
   */
  async place(actor: Actor, items: ReserveItem[], idempotencyKey?: string): Promise<Order> {
    const { store, inventory } = this.deps;
    const requestHash = hashRequest(items);
    if (idempotencyKey) {
      const first = await store.findByIdempotencyKey(actor.id, idempotencyKey);
      if (first) {
        if (first.requestHash !== requestHash) throw new IdempotencyKeyReusedError();
        return first.order;
      }
    }
    const limits = limitsInForce(this.deps.limits) ? this.deps.limits : undefined;
    const orderId = randomUUID();
    let reserved: Awaited<ReturnType<Inventory['reserve']>>;
    try {
      reserved = await inventory.reserve(orderId, items, actor.id);
    } catch (err) {
      // A reserve that failed on the way may still have been applied: take it back.
      if (err instanceof InventoryUnavailableError && !err.circuitOpen)
        await this.releaseOrQueue(orderId, 'reserve failed');
      throw err;
    }
    try {
      const order = transition(newOrder(orderId, actor.id, reserved), 'confirmed');
      const result = await store.insert(
        order,
        createdEvent(order),
        idempotencyKey ? { key: idempotencyKey, requestHash } : undefined,
        limits,
      );
      if (result.inserted) return order;
      // A concurrent request with the same key won: ours is not an order, give its stock back.
      await this.releaseOrQueue(orderId, 'idempotent duplicate');
      if (result.existing.requestHash !== requestHash) throw new IdempotencyKeyReusedError();
      return result.existing.order;
    } catch (err) {
      if (!(err instanceof IdempotencyKeyReusedError)) await this.releaseOrQueue(orderId, 'order not stored');
      throw err;
    }
  }

  private async releaseOrQueue(orderId: string, reason: string): Promise<void> {
    try {
      await this.deps.inventory.release(orderId);
    } catch (err) {
      this.deps.logger.warn({ err, orderId, reason }, 'stock release failed; queued for retry');
      try {
        await this.deps.store.recordPendingRelease(orderId, reason);
      } catch (err2) {
        this.deps.logger.error({ err: err2, orderId }, 'could not queue the stock release');
      }
    }
  }

  /** Retries queued releases; returns how many completed. */
  async retryPendingReleases(limit = 50): Promise<number> {
    let done = 0;
    for (const orderId of await this.deps.store.takePendingReleases(limit)) {
      try {
        await this.deps.inventory.release(orderId);
        await this.deps.store.clearPendingRelease(orderId);
        done++;
      } catch (err) {
        this.deps.logger.debug({ err, orderId }, 'pending release still failing');
        break;
      }
    }
    return done;
  }

  async get(actor: Actor, id: string): Promise<Order> {
    const order = await this.deps.store.get(id);
    // Someone else's order is indistinguishable from a missing one.
    if (!order || order.userId !== actor.id) throw new OrderNotFoundError(id);
    return order;
  }

  /** The caller's orders, newest first, in pages: `cursor` is the previous page's `nextCursor`. */
  async list(
    actor: Actor,
    opts: { limit: number; cursor?: string },
  ): Promise<{ items: Order[]; nextCursor: string | null }> {
    let after: { createdAt: string; id: string } | undefined;
    if (opts.cursor) {
      const text = Buffer.from(opts.cursor, 'base64url').toString('utf8');
      const [createdAt, id, extra] = text.split('|');
      if (
        !createdAt ||
        !id ||
        extra !== undefined ||
        Number.isNaN(Date.parse(createdAt)) ||
        !/^[0-9a-f-]{36}$/.test(id) ||
        Buffer.from(text).toString('base64url') !== opts.cursor
      )
        throw new InvalidCursorError();
      after = { createdAt, id };
    }
    const rows = await this.deps.store.listByUser(actor.id, { limit: opts.limit + 1, after });
    const items = rows.slice(0, opts.limit);
    const last = items.at(-1);
    const nextCursor =
      rows.length > opts.limit && last
        ? Buffer.from(`${last.createdAt}|${last.id}`).toString('base64url')
        : null;
    return { items, nextCursor };
  }

  /**
   * Owner or admin. The status machine decides whether it may; the stock is released
   * (idempotent) before the change is stored with its `order.cancelled` event, so a retry
   * after any failure converges.
   */
  async cancel(actor: Actor, id: string): Promise<Order> {
    const current = await this.deps.store.get(id);
    if (!current || (current.userId !== actor.id && actor.role !== 'admin')) throw new OrderNotFoundError(id);
    const cancelled = transition(current, 'cancelled');
    await this.deps.inventory.release(id);
    const saved = await this.deps.store.saveTransition(cancelled, current.status, cancelledEvent(cancelled));
    if (!saved) {
      // Changed under us: re-check the new status (a concurrent cancel makes this a 409 INVALID_TRANSITION).
      const now = await this.deps.store.get(id);
      if (!now) throw new OrderNotFoundError(id);
      return transition(now, 'cancelled');
    }
    return cancelled;
  }
}
