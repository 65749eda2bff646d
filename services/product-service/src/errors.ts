import { publicError } from '@mdp/contracts/errors';
import { RESERVATION_ERRORS, type ReservationErrorCode } from '@mdp/contracts/reservations';
import type { ErrorMap } from '@mdp/platform/errors';
import { DuplicateSkuError, InvalidCursorError, ReservationError } from './domain/product.js';

const RESERVATION_CODES: Record<ReservationError['reason'], ReservationErrorCode> = {
  insufficient_stock: 'INSUFFICIENT_STOCK',
  unknown_product: 'UNKNOWN_PRODUCT',
  already_released: 'RESERVATION_RELEASED',
  in_progress: 'RESERVATION_IN_PROGRESS',
};

/** product-service's domain errors as the contracts' errors (handed to the HTTP factory). */
export const errorMap: ErrorMap = (err) => {
  if (err instanceof DuplicateSkuError) return publicError('DUPLICATE_SKU', err.message);
  if (err instanceof InvalidCursorError) return publicError('INVALID_CURSOR', err.message);
  if (err instanceof ReservationError) {
    const code = RESERVATION_CODES[err.reason];
    return {
      status: RESERVATION_ERRORS[code],
      code,
      message: err.message,
      ...(err.productId ? { details: { productId: err.productId } } : {}),
    };
  }
  return undefined;
};
