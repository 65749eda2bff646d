import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkOrderLimits, limitsInForce, NO_HOLDINGS, OrderLimitError, unitsOf } from './limits.js';

const limits = { maxOpenOrders: 3, maxUnitsPerProduct: 5, windowHours: 24 };
const item = (productId: string, quantity: number) => ({ productId, quantity });

test('an order within both limits passes', () => {
  checkOrderLimits(limits, NO_HOLDINGS, [item('a', 5), item('b', 1)]);
  checkOrderLimits(limits, { openOrders: 2, units: { a: 4 } }, [item('a', 1)]);
});

test('the (N+1)th open order is refused', () => {
  assert.throws(
    () => checkOrderLimits(limits, { openOrders: 3, units: {} }, [item('a', 1)]),
    (err) =>
      err instanceof OrderLimitError &&
      err.limit === 'open_orders' &&
      err.max === 3 &&
      err.held === 3 &&
      err.productId === undefined,
  );
});

test('units of one product are summed over its lines and over what is already held', () => {
  assert.deepEqual(
    [...unitsOf([item('a', 2), item('b', 1), item('a', 3)])],
    [
      ['a', 5],
      ['b', 1],
    ],
  );
  // Split over lines of one order, the same product still counts as one.
  assert.throws(
    () => checkOrderLimits(limits, NO_HOLDINGS, [item('a', 3), item('a', 3)]),
    (err) => err instanceof OrderLimitError && err.limit === 'units_per_product' && err.productId === 'a',
  );
  assert.throws(
    () => checkOrderLimits(limits, { openOrders: 1, units: { b: 4 } }, [item('a', 1), item('b', 2)]),
    (err) =>
      err instanceof OrderLimitError &&
      err.details.limit === 'units_per_product' &&
      err.details.held === 4 &&
      err.details.productId === 'b',
  );
  // Units of other products do not count.
  checkOrderLimits(limits, { openOrders: 0, units: { b: 5 } }, [item('a', 5)]);
});

test('a limit of 0 is off; both off, nothing is in force', () => {
  const both = { maxOpenOrders: 0, maxUnitsPerProduct: 0, windowHours: 24 };
  assert.equal(limitsInForce(both), false);
  checkOrderLimits(both, { openOrders: 10_000, units: { a: 10_000 } }, [item('a', 500)]);
  const unitsOnly = { ...both, maxUnitsPerProduct: 2 };
  assert.equal(limitsInForce(unitsOnly), true);
  checkOrderLimits(unitsOnly, { openOrders: 10_000, units: {} }, [item('a', 2)]);
  assert.throws(
    () => checkOrderLimits(unitsOnly, { openOrders: 0, units: { a: 1 } }, [item('a', 2)]),
    (err) => err instanceof OrderLimitError && err.limit === 'units_per_product',
  );
  const ordersOnly = { ...both, maxOpenOrders: 3 };
  checkOrderLimits(ordersOnly, { openOrders: 2, units: { a: 10_000 } }, [item('a', 500)]);
  assert.throws(
    () => checkOrderLimits(ordersOnly, { openOrders: 3, units: {} }, [item('a', 1)]),
    (err) => err instanceof OrderLimitError && err.limit === 'open_orders',
  );
});
