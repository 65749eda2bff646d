import type { ReserveItem } from '@mdp/contracts/reservations';

/**
 * How much stock one customer may hold (issue 15, finding 8). Every order that is not cancelled
 * holds its stock (`pending` and `confirmed`: the shop has no paid / fulfilled state), so these
 * count the customer's orders that are not cancelled and were placed within the window.
 */
export interface OrderLimits {
  /** Orders not cancelled, per customer, within the window (this one included); 0 = no such limit. */
  maxOpenOrders: number;
  /** Units of one product, per customer, over those orders (this one included, its lines summed); 0 = none. */
  maxUnitsPerProduct: number;
  /** How far back an order counts, in hours; 0 = every order that is not cancelled, however old. */
  windowHours: number;
}

/** What a customer holds now: open orders, and units per product (of the products asked for). */
export interface Holdings {
  openOrders: number;
  units: Record<string, number>;
}

export const NO_HOLDINGS: Holdings = { openOrders: 0, units: {} };

export class OrderLimitError extends Error {
  constructor(
    readonly limit: 'open_orders' | 'units_per_product',
    readonly max: number,
    readonly held: number,
    readonly productId?: string,
  ) {
    super(
      limit === 'open_orders'
        ? `at most ${max} open orders per customer; cancel one or wait until an older one no longer counts`
        : `at most ${max} units of a product per customer over open orders (${held} held)`,
    );
    this.name = 'OrderLimitError';
  }

  get details() {
    return {
      limit: this.limit,
      max: this.max,
      held: this.held,
      ...(this.productId ? { productId: this.productId } : {}),
    };
  }
}

/** Units per product of one order (a product may appear on several lines). */
export function unitsOf(items: readonly ReserveItem[]): Map<string, number> {
  const units = new Map<string, number>();
  for (const i of items) units.set(i.productId, (units.get(i.productId) ?? 0) + i.quantity);
  return units;
}

/** Whether any limit is set (both 0: placement counts nothing, locks nothing). */
export const limitsInForce = (limits: OrderLimits): boolean =>
  limits.maxOpenOrders > 0 || limits.maxUnitsPerProduct > 0;

/** Throws OrderLimitError when placing `items` on top of `held` would pass a limit. */
export function checkOrderLimits(limits: OrderLimits, held: Holdings, items: readonly ReserveItem[]): void {
  if (limits.maxOpenOrders > 0 && held.openOrders + 1 > limits.maxOpenOrders)
    throw new OrderLimitError('open_orders', limits.maxOpenOrders, held.openOrders);
  if (limits.maxUnitsPerProduct === 0) return;
  for (const [productId, asked] of unitsOf(items)) {
    const already = held.units[productId] ?? 0;
    if (already + asked > limits.maxUnitsPerProduct)
      throw new OrderLimitError('units_per_product', limits.maxUnitsPerProduct, already, productId);
  }
}
