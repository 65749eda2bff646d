import type { EventData } from '@mdp/contracts/events';
import type { ReservedLine as ReservedLineBody, ReserveItem } from '@mdp/contracts/reservations';
import type { OrderLimits } from './limits.js';
import type { Order } from './order.js';

export type { ReserveItem };
/** A line the inventory reserved, priced by the catalog (the reservation API's line without the stock left). */
export type ReservedLine = Omit<ReservedLineBody, 'stock'>;

/** Stock in product-service. Both calls are idempotent per order id. */
export interface Inventory {
  /** `userId`: who places the order (product-service counts A/B conversions by it). */
  reserve(orderId: string, items: ReserveItem[], userId?: string): Promise<ReservedLine[]>;
  release(orderId: string): Promise<void>;
}

/** The inventory said no (not a failure of the inventory itself). */
export class StockRefusedError extends Error {
  constructor(
    readonly reason: 'insufficient_stock' | 'unknown_product' | 'already_released',
    message: string,
    readonly productId?: string,
  ) {
    super(message);
    this.name = 'StockRefusedError';
  }
}

/** product-service cannot be reached, timed out, failed, or its circuit is open. */
export class InventoryUnavailableError extends Error {
  constructor(
    message: string,
    readonly circuitOpen = false,
  ) {
    super(message);
    this.name = 'InventoryUnavailableError';
  }
}

/** An event to publish through the outbox, in the same transaction as the state change. */
export type DomainEvent =
  | { type: 'order.created'; data: EventData<'order.created'> }
  | { type: 'order.cancelled'; data: EventData<'order.cancelled'> };

export interface IdempotentResult {
  requestHash: string;
  order: Order;
}

export interface OrderStore {
  findByIdempotencyKey(userId: string, key: string): Promise<IdempotentResult | null>;
  /**
   * Inserts the order, its idempotency key (if any) and its event in one transaction.
   * Returns `{ inserted: false, existing }` (the first result) when the key was taken meanwhile.
   * With `limits`: in the statement that inserts the order, serialized per user, the user's holdings are counted
   * and an OrderLimitError (nothing stored) is thrown when this order would pass a limit; concurrent
   * placements of one user can never pass it together. A taken key wins over the limits.
   */
  insert(
    order: Order,
    event: DomainEvent,
    idempotency?: { key: string; requestHash: string },
    limits?: OrderLimits,
  ): Promise<{ inserted: true } | { inserted: false; existing: IdempotentResult }>;
  get(id: string): Promise<Order | null>;
  /** Newest first; `after` = the last order of the previous page (created_at, id). */
  listByUser(
    userId: string,
    opts: { limit: number; after?: { createdAt: string; id: string } },
  ): Promise<Order[]>;
  /** Saves a status change and its event in one transaction, if the status is still `from`. */
  saveTransition(order: Order, from: Order['status'], event: DomainEvent): Promise<boolean>;
  /** A release that must still happen (product-service was unreachable): retried in the background. */
  recordPendingRelease(orderId: string, reason: string): Promise<void>;
  takePendingReleases(limit: number): Promise<string[]>;
  clearPendingRelease(orderId: string): Promise<void>;
}
