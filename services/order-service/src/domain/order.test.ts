import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canTransition, InvalidTransitionError, MixedCurrencyError, newOrder, transition } from './order.js';

const line = (amount: number, quantity: number, currency = 'EUR') => ({
  productId: `p${amount}`,
  sku: `S${amount}`,
  name: 'x',
  quantity,
  unitPrice: { amount, currency },
});

test('totals are integer minor units computed from catalog prices', () => {
  const o = newOrder('o1', 'u1', [line(1999, 3), line(1, 1)]);
  assert.equal(o.status, 'pending');
  assert.deepEqual(o.total, { amount: 5998, currency: 'EUR' });
  assert.deepEqual(o.items[0]?.lineTotal, { amount: 5997, currency: 'EUR' });
});

test('mixed currencies are refused', () => {
  assert.throws(() => newOrder('o1', 'u1', [line(1, 1), line(2, 1, 'USD')]), MixedCurrencyError);
});

test('status machine: pending→confirmed→cancelled; nothing leaves cancelled; no way back', () => {
  const o = newOrder('o1', 'u1', [line(1, 1)]);
  const c = transition(o, 'confirmed');
  assert.equal(c.status, 'confirmed');
  assert.equal(transition(c, 'cancelled').status, 'cancelled');
  assert.equal(transition(o, 'cancelled').status, 'cancelled');
  assert.throws(() => transition(c, 'pending'), InvalidTransitionError);
  assert.throws(() => transition(c, 'confirmed'), InvalidTransitionError);
  const x = transition(c, 'cancelled');
  for (const to of ['pending', 'confirmed', 'cancelled'] as const) {
    assert.equal(canTransition('cancelled', to), false);
    assert.throws(() => transition(x, to), InvalidTransitionError);
  }
});
