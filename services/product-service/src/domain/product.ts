import type { Money } from '@mdp/contracts/common';
import type { ReservedLine as ReservedLineBody, ReserveItem } from '@mdp/contracts/reservations';

export type { Money };

export interface Product {
  id: string;
  sku: string;
  name: string;
  description: string;
  category: string;
  price: Money;
  stock: number;
}

export type NewProduct = Omit<Product, 'id'>;
export type ProductPatch = Partial<Omit<Product, 'id'>>;

export interface ListQuery {
  q?: string | undefined;
  category?: string | undefined;
  limit: number;
  /** Opaque: the id of the last item of the previous page. */
  cursor?: string | undefined;
}

export interface Page {
  items: Product[];
  nextCursor: string | null;
}

export type ReserveLine = ReserveItem;

/** What a reservation took (the reservation API's line), and the stock before: the domain sees thresholds crossed. */
export interface ReservedLine extends ReservedLineBody {
  stockBefore: number;
}

export interface Reservation {
  orderId: string;
  status: 'reserved' | 'released';
  lines: ReservedLine[];
  /** False when this call found the reservation already made (an idempotent replay). */
  changed: boolean;
}

/** Why a reservation was refused. */
export class ReservationError extends Error {
  constructor(
    readonly reason: 'insufficient_stock' | 'unknown_product' | 'already_released' | 'in_progress',
    readonly productId?: string,
  ) {
    super(
      reason === 'insufficient_stock'
        ? `not enough stock for product ${productId}`
        : reason === 'unknown_product'
          ? `unknown product ${productId}`
          : reason === 'in_progress'
            ? 'a reservation for this order id is in progress; retry'
            : 'this order id was released; it cannot reserve again',
    );
    this.name = 'ReservationError';
  }
}

/** A pagination cursor this API did not hand out (a 400, not an empty page). */
export class InvalidCursorError extends Error {
  constructor() {
    super('the cursor is not one this API returned; start again without it');
    this.name = 'InvalidCursorError';
  }
}

export class DuplicateSkuError extends Error {
  constructor(readonly sku: string) {
    super(`a product with sku ${sku} exists`);
    this.name = 'DuplicateSkuError';
  }
}

/**
 * The catalog store. Adapters: PostgreSQL (JSONB documents) and MongoDB. Both pass
 * test/repository.contract.ts.
 */
export interface ProductRepository {
  readonly kind: 'postgres' | 'mongodb';
  list(query: ListQuery): Promise<Page>;
  get(id: string): Promise<Product | null>;
  create(product: NewProduct): Promise<Product>;
  update(id: string, patch: ProductPatch): Promise<Product | null>;
  /**
   * All lines or none; never below zero; idempotent per order id (a replay returns the first
   * result with changed=false). A released order id cannot reserve again.
   */
  reserve(orderId: string, lines: ReserveLine[]): Promise<Reservation>;
  /**
   * Gives the stock back; idempotent. Releasing an order id that never reserved records the
   * release, so a late reserve for it is refused (status 'released', no lines).
   */
  release(orderId: string): Promise<Reservation>;
  /** Inserts these products (with their ids) if the store holds none; returns how many. */
  seed(products: Product[]): Promise<number>;
  close(): Promise<void>;
}

/** Merges equal product ids and orders lines by id (a fixed lock order: no deadlocks). */
export function normalizeLines(lines: ReserveLine[]): ReserveLine[] {
  const merged = new Map<string, number>();
  for (const l of lines) merged.set(l.productId, (merged.get(l.productId) ?? 0) + l.quantity);
  return [...merged]
    .map(([productId, quantity]) => ({ productId, quantity }))
    .sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0));
}

export const encodeCursor = (id: string) => Buffer.from(id, 'utf8').toString('base64url');
/** The product id a cursor names; InvalidCursorError when it is not a cursor this API made. */
export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[A-Za-z0-9-]{1,64}$/.test(id) || encodeCursor(id) !== cursor) throw new InvalidCursorError();
  return id;
}
