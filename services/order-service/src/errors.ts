import { publicError } from '@mdp/contracts/errors';
import type { ErrorMap } from '@mdp/platform/errors';
import { OrderLimitError } from './domain/limits.js';
import { InvalidTransitionError, MixedCurrencyError } from './domain/order.js';
import { IdempotencyKeyReusedError, InvalidCursorError, OrderNotFoundError } from './domain/orders.js';
import { InventoryUnavailableError, StockRefusedError } from './domain/ports.js';
import { FaultInjectedError } from './faults.js';

/** order-service's domain errors as the contract's errors (handed to the HTTP factory). */
export const errorMap: ErrorMap = (err) => {
  if (err instanceof StockRefusedError)
    return err.reason === 'unknown_product'
      ? publicError('UNKNOWN_PRODUCT', err.message, { productId: err.productId })
      : publicError('INSUFFICIENT_STOCK', err.message, { productId: err.productId });
  if (err instanceof InventoryUnavailableError)
    return publicError('PRODUCT_SERVICE_UNAVAILABLE', 'the catalog is unavailable; try again shortly');
  if (err instanceof OrderLimitError) return publicError('ORDER_LIMIT_REACHED', err.message, err.details);
  if (err instanceof OrderNotFoundError) return publicError('NOT_FOUND', err.message);
  if (err instanceof InvalidTransitionError) return publicError('INVALID_TRANSITION', err.message);
  if (err instanceof IdempotencyKeyReusedError) return publicError('IDEMPOTENCY_KEY_REUSED', err.message);
  if (err instanceof InvalidCursorError) return publicError('INVALID_CURSOR', err.message);
  if (err instanceof MixedCurrencyError) return publicError('MIXED_CURRENCY', err.message);
  if (err instanceof FaultInjectedError) return publicError('FAULT_INJECTED', err.message);
  return undefined;
};
