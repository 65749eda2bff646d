/**
 * The order use cases on in-memory fakes of their ports (test/fakes.ts): placement with every
 * compensation path, idempotency, cancellation. No datastore, no product-service.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger } from '@mdp/platform/logger';
import { FakeInventory, FakeOrderStore } from '../../test/fakes.js';
import { OrderLimitError, type OrderLimits } from './limits.js';
import { InvalidTransitionError, transition } from './order.js';
import { IdempotencyKeyReusedError, InvalidCursorError, OrderNotFoundError, Orders } from './orders.js';
import { InventoryUnavailableError, StockRefusedError } from './ports.js';

const logger = createLogger({ service: 'order-service', level: 'silent' });
const alice = { id: 'alice', role: 'customer' };
const bob = { id: 'bob', role: 'customer' };
const admin = { id: 'root', role: 'admin' };

const roomy: OrderLimits = { maxOpenOrders: 1000, maxUnitsPerProduct: 1000, windowHours: 24 };

function setup(products: Record<string, number> = { p1: 10, p2: 1 }, limits = roomy) {
  const inventory = new FakeInventory(products);
  const store = new FakeOrderStore();
  return { inventory, store, orders: new Orders({ store, inventory, logger, limits }) };
}

describe('order limits (issue 15, finding 8)', () => {
  const tight: OrderLimits = { maxOpenOrders: 2, maxUnitsPerProduct: 3, windowHours: 24 };

  test('the (N+1)th open order is refused and its reservation given back; a cancel frees a slot', async () => {
    const { orders, inventory, store } = setup({ p1: 100 }, tight);
    const first = await orders.place(alice, [{ productId: 'p1', quantity: 1 }]);
    await orders.place(alice, [{ productId: 'p1', quantity: 1 }]);
    await assert.rejects(
      orders.place(alice, [{ productId: 'p1', quantity: 1 }]),
      (err) => err instanceof OrderLimitError && err.limit === 'open_orders',
    );
    assert.equal(inventory.stock.get('p1'), 98, 'the refused order holds no stock');
    assert.equal(store.orders.size, 2);
    // Another customer is not affected.
    await orders.place(bob, [{ productId: 'p1', quantity: 1 }]);
    await orders.cancel(alice, first.id);
    await orders.place(alice, [{ productId: 'p1', quantity: 1 }]);
  });

  test('units of one product are capped over open orders; a refusal at the store releases the stock', async () => {
    const { orders, inventory, store } = setup({ p1: 100, p2: 100 }, tight);
    await orders.place(alice, [{ productId: 'p1', quantity: 2 }]);
    await assert.rejects(
      orders.place(alice, [{ productId: 'p1', quantity: 2 }]),
      (err) => err instanceof OrderLimitError && err.limit === 'units_per_product' && err.productId === 'p1',
    );
    await orders.place(alice, [
      { productId: 'p1', quantity: 1 },
      { productId: 'p2', quantity: 3 },
    ]);
    // Concurrent placements: the store's atomic check refuses the late ones, whose reservations
    // are given back.
    const { orders: o2, inventory: inv2 } = setup({ p1: 100 }, tight);
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => o2.place(alice, [{ productId: 'p1', quantity: 1 }])),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 2);
    assert.ok(
      results.every((r) => r.status === 'fulfilled' || r.reason instanceof OrderLimitError),
      'the others are limit refusals',
    );
    assert.equal(inv2.stock.get('p1'), 98, 'refused placements released what they reserved');
    assert.equal(inventory.stock.get('p1'), 97);
    assert.equal(store.orders.size, 2);
  });

  test('a replay of an Idempotency-Key is answered by the first order even at the limit', async () => {
    const { orders } = setup({ p1: 100 }, { ...tight, maxOpenOrders: 1 });
    const first = await orders.place(alice, [{ productId: 'p1', quantity: 1 }], 'k1');
    const again = await orders.place(alice, [{ productId: 'p1', quantity: 1 }], 'k1');
    assert.equal(again.id, first.id);
    await assert.rejects(orders.place(alice, [{ productId: 'p1', quantity: 1 }], 'k2'), OrderLimitError);
  });
});

describe('placing an order', () => {
  test('reserves, records the confirmed order with its order.created event, priced by the catalog', async () => {
    const { orders, inventory, store } = setup();
    const order = await orders.place(alice, [{ productId: 'p1', quantity: 3 }]);
    assert.equal(order.status, 'confirmed');
    assert.deepEqual(order.total, { amount: 3000, currency: 'EUR' });
    assert.equal(inventory.stock.get('p1'), 7);
    assert.deepEqual(store.outbox, [
      {
        type: 'order.created',
        data: {
          orderId: order.id,
          userId: 'alice',
          status: 'confirmed',
          items: order.items,
          total: order.total,
          createdAt: order.createdAt,
        },
      },
    ]);
  });

  test('refused stock: the refusal comes back, nothing is stored, nothing to release', async () => {
    const { orders, inventory, store } = setup();
    await assert.rejects(
      orders.place(alice, [{ productId: 'p2', quantity: 2 }]),
      (e) => e instanceof StockRefusedError && e.reason === 'insufficient_stock' && e.productId === 'p2',
    );
    await assert.rejects(
      orders.place(alice, [{ productId: 'nope', quantity: 1 }]),
      (e) => e instanceof StockRefusedError && e.reason === 'unknown_product',
    );
    assert.equal(store.orders.size, 0);
    assert.ok(!inventory.calls.some((c) => c.startsWith('release')));
  });

  test('a reserve that failed on the way (applied, answer lost) is released: no stock stays held', async () => {
    const { orders, inventory, store } = setup();
    inventory.failReserveAfterApplying = new InventoryUnavailableError('timed out');
    await assert.rejects(orders.place(alice, [{ productId: 'p1', quantity: 4 }]), InventoryUnavailableError);
    assert.equal(inventory.stock.get('p1'), 10, 'given back');
    assert.equal(store.orders.size, 0);
    assert.equal(store.pendingReleases.size, 0);
  });

  test('...and when the release fails too, it is queued and a later retry lands it', async () => {
    const { orders, inventory, store } = setup();
    inventory.failReserveAfterApplying = new InventoryUnavailableError('timed out');
    inventory.failReleases = 1;
    await assert.rejects(orders.place(alice, [{ productId: 'p1', quantity: 4 }]), InventoryUnavailableError);
    assert.equal(inventory.stock.get('p1'), 6, 'still held');
    assert.deepEqual([...store.pendingReleases.values()], ['reserve failed']);
    assert.equal(await orders.retryPendingReleases(), 1);
    assert.equal(inventory.stock.get('p1'), 10);
    assert.equal(store.pendingReleases.size, 0);
  });

  test('an open circuit: nothing was sent, so nothing is released', async () => {
    const { orders, inventory } = setup();
    inventory.failReserve = new InventoryUnavailableError('product-service circuit is open', true);
    await assert.rejects(orders.place(alice, [{ productId: 'p1', quantity: 1 }]), InventoryUnavailableError);
    assert.ok(!inventory.calls.some((c) => c.startsWith('release')));
  });

  test('the order cannot be stored after the reservation: the reservation is released', async () => {
    const { orders, inventory, store } = setup();
    store.failInsert = new Error('Connection terminated');
    await assert.rejects(orders.place(alice, [{ productId: 'p1', quantity: 2 }]), /Connection terminated/);
    assert.equal(inventory.stock.get('p1'), 10);
    assert.equal(store.outbox.length, 0);
  });

  test('a queued release that still fails stays queued; the retry stops at the first failure', async () => {
    const { orders, inventory, store } = setup();
    for (const id of ['o1', 'o2']) await store.recordPendingRelease(id, 'test');
    inventory.failReleases = 5;
    assert.equal(await orders.retryPendingReleases(), 0);
    assert.equal(store.pendingReleases.size, 2);
    assert.deepEqual(inventory.calls, ['release o1']);
  });
});

describe('Idempotency-Key', () => {
  test('a replay returns the first order without reserving again; another body is refused', async () => {
    const { orders, inventory } = setup();
    const first = await orders.place(alice, [{ productId: 'p1', quantity: 2 }], 'k1');
    const again = await orders.place(alice, [{ productId: 'p1', quantity: 2 }], 'k1');
    assert.deepEqual(again, first);
    assert.equal(inventory.calls.filter((c) => c.startsWith('reserve')).length, 1);
    await assert.rejects(
      orders.place(alice, [{ productId: 'p1', quantity: 1 }], 'k1'),
      IdempotencyKeyReusedError,
    );
    const bobs = await orders.place(bob, [{ productId: 'p1', quantity: 1 }], 'k1');
    assert.notEqual(bobs.id, first.id, 'the same key of another user is another order');
  });

  test('a concurrent request with the same key won: ours gives its stock back and returns the winner', async () => {
    const { orders, inventory, store } = setup();
    const winner = await orders.place(alice, [{ productId: 'p1', quantity: 1 }]);
    // The winner stored the same body under the key while ours was reserving (its hash, taken
    // from a placement of that body elsewhere).
    const elsewhere = setup();
    await elsewhere.orders.place(alice, [{ productId: 'p1', quantity: 2 }], 'k2');
    const sameBody = [...elsewhere.store.keys.values()][0]?.requestHash as string;
    store.keyTakenBy = { requestHash: sameBody, order: winner };
    const ours = await orders.place(alice, [{ productId: 'p1', quantity: 2 }], 'k2');
    assert.equal(ours.id, winner.id);
    assert.equal(inventory.stock.get('p1'), 9, 'only the winner holds stock');
  });

  test('...and if the winner had another body, ours is refused (and gives its stock back)', async () => {
    const { orders, inventory, store } = setup();
    const winner = await orders.place(alice, [{ productId: 'p1', quantity: 1 }]);
    store.keyTakenBy = { requestHash: 'another body', order: winner };
    await assert.rejects(
      orders.place(alice, [{ productId: 'p1', quantity: 2 }], 'k3'),
      IdempotencyKeyReusedError,
    );
    assert.equal(inventory.stock.get('p1'), 9);
  });
});

describe('cancelling an order', () => {
  test('the owner cancels: stock released, order.cancelled recorded with the status change', async () => {
    const { orders, inventory, store } = setup();
    const order = await orders.place(alice, [{ productId: 'p1', quantity: 3 }]);
    const cancelled = await orders.cancel(alice, order.id);
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(inventory.stock.get('p1'), 10);
    assert.equal((await store.get(order.id))?.status, 'cancelled');
    assert.deepEqual(store.outbox.at(-1), {
      type: 'order.cancelled',
      data: {
        orderId: order.id,
        userId: 'alice',
        items: [{ productId: 'p1', quantity: 3 }],
        total: order.total,
        cancelledAt: cancelled.updatedAt,
      },
    });
  });

  test("someone else's order is not found; an admin may cancel it; twice is an invalid transition", async () => {
    const { orders, store } = setup();
    const order = await orders.place(alice, [{ productId: 'p1', quantity: 1 }]);
    await assert.rejects(orders.cancel(bob, order.id), OrderNotFoundError);
    await assert.rejects(orders.get(bob, order.id), OrderNotFoundError);
    await assert.rejects(orders.cancel(alice, 'missing'), OrderNotFoundError);
    assert.equal((await orders.cancel(admin, order.id)).status, 'cancelled');
    await assert.rejects(orders.cancel(alice, order.id), InvalidTransitionError);
    assert.equal(store.outbox.filter((e) => e.type === 'order.cancelled').length, 1);
  });

  test('a release that fails stops the cancellation before anything is stored (a retry converges)', async () => {
    const { orders, inventory, store } = setup();
    const order = await orders.place(alice, [{ productId: 'p1', quantity: 1 }]);
    inventory.failReleases = 1;
    await assert.rejects(orders.cancel(alice, order.id), InventoryUnavailableError);
    assert.equal((await store.get(order.id))?.status, 'confirmed');
    assert.equal((await orders.cancel(alice, order.id)).status, 'cancelled');
  });

  test('cancelled concurrently: the re-check answers with the invalid transition', async () => {
    const { orders, store } = setup();
    const order = await orders.place(alice, [{ productId: 'p1', quantity: 1 }]);
    store.changedUnder = transition(order, 'cancelled');
    await assert.rejects(orders.cancel(alice, order.id), InvalidTransitionError);
    assert.equal(store.outbox.filter((e) => e.type === 'order.cancelled').length, 0);
  });
});

describe('listing', () => {
  test('own orders only, newest first, in pages that together are the whole list', async () => {
    const { orders } = setup({ p1: 100 });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await orders.place(alice, [{ productId: 'p1', quantity: 1 }])).id);
    await orders.place(bob, [{ productId: 'p1', quantity: 1 }]);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await orders.list(alice, { limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((o) => o.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    assert.deepEqual(new Set(seen), new Set(ids));
    assert.equal(seen.length, 5);
    await assert.rejects(orders.list(alice, { limit: 2, cursor: 'garbage' }), InvalidCursorError);
  });
});
