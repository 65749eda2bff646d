/**
 * product-service's internal stock API, called by order-service (not exposed by the gateway).
 * Both calls are idempotent per order id, so the caller may retry them.
 *   POST /internal/reservations                     ReserveRequest → 200 Reservation | error
 *   POST /internal/reservations/:orderId/release    → 200 Reservation
 */
import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Id, Money } from './common.js';

export const RESERVE_PATH = '/internal/reservations';
export const RELEASE_PATH = '/internal/reservations/:orderId/release';
export const releasePath = (orderId: string) =>
  `/internal/reservations/${encodeURIComponent(orderId)}/release`;

export const ReserveItem = Type.Object(
  { productId: Id, quantity: Type.Integer({ minimum: 1, maximum: 1000 }) },
  { additionalProperties: false },
);
export type ReserveItem = Static<typeof ReserveItem>;

export const ReserveRequest = Type.Object(
  {
    orderId: Id,
    items: Type.Array(ReserveItem, { minItems: 1, maxItems: 50 }),
    /** Who places the order (optional): product-service counts A/B conversions by it (issue 13). */
    userId: Type.Optional(Id),
  },
  { additionalProperties: false },
);
export type ReserveRequest = Static<typeof ReserveRequest>;

/** One line as the catalog reserved it, priced from the catalog at that moment. */
export const ReservedLine = Type.Object({
  productId: Type.String(),
  sku: Type.String(),
  name: Type.String(),
  quantity: Type.Integer(),
  unitPrice: Money,
  /** Stock left after the reservation (or release). */
  stock: Type.Integer(),
});
export type ReservedLine = Static<typeof ReservedLine>;

export const Reservation = Type.Object({
  orderId: Type.String(),
  status: Type.Union([Type.Literal('reserved'), Type.Literal('released')]),
  lines: Type.Array(ReservedLine),
});
export type Reservation = Static<typeof Reservation>;

export const ReleaseParams = Type.Object({ orderId: Id });

/** Why a reservation is refused, and the status each answer has. */
export const RESERVATION_ERRORS = {
  /** 409: a line asks for more than the stock; `details.productId` names it. */
  INSUFFICIENT_STOCK: 409,
  /** 422: a product id the catalog does not know; `details.productId` names it. */
  UNKNOWN_PRODUCT: 422,
  /** 409: this order id was released; it can never reserve again. */
  RESERVATION_RELEASED: 409,
  /** 503: a reservation for this order id is being made right now; retry. */
  RESERVATION_IN_PROGRESS: 503,
} as const;
export type ReservationErrorCode = keyof typeof RESERVATION_ERRORS;

export const ReservationErrorBody = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Object({ productId: Type.Optional(Type.String()) })),
  }),
});
export type ReservationErrorBody = Static<typeof ReservationErrorBody>;

export const isReservationErrorCode = (code: unknown): code is ReservationErrorCode =>
  typeof code === 'string' && Object.hasOwn(RESERVATION_ERRORS, code);

const reservation = TypeCompiler.Compile(Reservation);
const errorBody = TypeCompiler.Compile(ReservationErrorBody);

/** The answer of either call if it is a Reservation of the contract, else undefined. */
export const asReservation = (body: unknown): Reservation | undefined =>
  reservation.Check(body) ? body : undefined;

/** The error of a refusal if the body is the contract's error shape, else undefined. */
export const asReservationError = (body: unknown): ReservationErrorBody['error'] | undefined =>
  errorBody.Check(body) ? body.error : undefined;
