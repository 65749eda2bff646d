import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  asReservation,
  asReservationError,
  isReservationErrorCode,
  RESERVATION_ERRORS,
  releasePath,
} from './reservations.js';

test('the reservation API: answers and refusals are recognised only in the contract shape', () => {
  const reservation = {
    orderId: 'o-1',
    status: 'reserved',
    lines: [
      {
        productId: 'p',
        sku: 'S',
        name: 'n',
        quantity: 2,
        unitPrice: { amount: 100, currency: 'EUR' },
        stock: 3,
      },
    ],
  };
  assert.deepEqual(asReservation(reservation), reservation);
  assert.equal(asReservation({ ...reservation, status: 'pending' }), undefined);
  assert.equal(asReservation({ ...reservation, lines: [{ productId: 'p' }] }), undefined);
  const refusal = { error: { code: 'INSUFFICIENT_STOCK', message: 'no', details: { productId: 'p' } } };
  assert.deepEqual(asReservationError(refusal), refusal.error);
  assert.equal(asReservationError({ code: 'X' }), undefined);
  assert.ok(isReservationErrorCode('RESERVATION_RELEASED'));
  assert.ok(!isReservationErrorCode('NOPE'));
  assert.deepEqual(RESERVATION_ERRORS, {
    INSUFFICIENT_STOCK: 409,
    UNKNOWN_PRODUCT: 422,
    RESERVATION_RELEASED: 409,
    RESERVATION_IN_PROGRESS: 503,
  });
  assert.equal(releasePath('a/b'), '/internal/reservations/a%2Fb/release');
});
