export interface Money {
  amount: number;
  currency: string;
}

export type OrderStatus = 'pending' | 'confirmed' | 'cancelled';

export interface OrderLine {
  productId: string;
  sku: string;
  name: string;
  quantity: number;
  unitPrice: Money;
  lineTotal: Money;
}

export interface Order {
  id: string;
  userId: string;
  status: OrderStatus;
  items: OrderLine[];
  total: Money;
  createdAt: string;
  updatedAt: string;
}

/** The order status machine: the only moves an order can make. */
const TRANSITIONS: Record<OrderStatus, readonly OrderStatus[]> = {
  pending: ['confirmed', 'cancelled'],
  confirmed: ['cancelled'],
  cancelled: [],
};

export class InvalidTransitionError extends Error {
  constructor(
    readonly from: OrderStatus,
    readonly to: OrderStatus,
  ) {
    super(`an order that is ${from} cannot become ${to}`);
    this.name = 'InvalidTransitionError';
  }
}

export const canTransition = (from: OrderStatus, to: OrderStatus) => TRANSITIONS[from].includes(to);

export function transition<S extends OrderStatus>(
  order: Order,
  to: S,
  at = new Date(),
): Order & { status: S } {
  if (!canTransition(order.status, to)) throw new InvalidTransitionError(order.status, to);
  return { ...order, status: to, updatedAt: at.toISOString() };
}

export class MixedCurrencyError extends Error {
  constructor() {
    super('all items of one order must be priced in the same currency');
    this.name = 'MixedCurrencyError';
  }
}

/** A new order, `pending`, priced from what the catalog reserved (never from the client). */
export function newOrder(
  id: string,
  userId: string,
  reserved: { productId: string; sku: string; name: string; quantity: number; unitPrice: Money }[],
  at = new Date(),
): Order {
  const currency = reserved[0]?.unitPrice.currency ?? 'EUR';
  if (reserved.some((l) => l.unitPrice.currency !== currency)) throw new MixedCurrencyError();
  const items = reserved.map((l) => ({
    productId: l.productId,
    sku: l.sku,
    name: l.name,
    quantity: l.quantity,
    unitPrice: { ...l.unitPrice },
    lineTotal: { amount: l.unitPrice.amount * l.quantity, currency },
  }));
  const amount = items.reduce((sum, l) => sum + l.lineTotal.amount, 0);
  if (!Number.isSafeInteger(amount)) throw new RangeError('order total out of range');
  const now = at.toISOString();
  return {
    id,
    userId,
    status: 'pending',
    items,
    total: { amount, currency },
    createdAt: now,
    updatedAt: now,
  };
}
