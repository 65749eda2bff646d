/**
 * The contract every ProductRepository adapter passes (PostgreSQL and MongoDB run the same
 * tests). `open()` gives a fresh, empty store with its schema in place.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  InvalidCursorError,
  type NewProduct,
  type ProductRepository,
  ReservationError,
} from '../src/domain/product.js';
import { DEMO_PRODUCTS } from '../src/seed-data.js';

export const sample = (over: Partial<NewProduct> = {}): NewProduct => ({
  sku: `SKU-${randomUUID().slice(0, 8)}`,
  name: 'Plain mug',
  description: 'A plain white mug',
  category: 'kitchen',
  price: { amount: 1250, currency: 'EUR' },
  stock: 10,
  ...over,
});

export interface ContractOptions {
  /**
   * Run the full-text search test (`list({ q })`); default true. Off only for a server that
   * cannot search (FerretDB v1: no text index, no $text), whose test file pins the refusal.
   */
  textSearch?: boolean;
  /**
   * Run the concurrency test (N parallel orders for the last K items); default true. Off only for
   * a server whose single-document updates are not atomic under concurrency (FerretDB v1 applies
   * update operators as read, modify, write back by _id, without a lock: parallel `$inc`s with a
   * `stock >= n` guard all pass the guard and oversell).
   */
  atomicUpdates?: boolean;
}

export function repositoryContract(
  name: string,
  open: () => Promise<{ repo: ProductRepository; drop(): Promise<void> }>,
  options: ContractOptions = {},
) {
  describe(`ProductRepository contract: ${name}`, () => {
    let repo: ProductRepository;
    let drop: () => Promise<void>;

    before(async () => {
      ({ repo, drop } = await open());
    });
    after(async () => {
      await repo.close();
      await drop();
    });

    test('create then get returns the same product; unknown id is null', async () => {
      const p = await repo.create(sample({ name: 'Blue teapot', price: { amount: 4599, currency: 'USD' } }));
      assert.match(p.id, /^[0-9a-f-]{36}$/);
      assert.deepEqual(await repo.get(p.id), p);
      assert.equal(await repo.get(randomUUID()), null);
      assert.equal(await repo.get('not-a-real-id'), null);
    });

    test('a duplicate sku is refused', async () => {
      const s = sample();
      await repo.create(s);
      await assert.rejects(repo.create({ ...s, name: 'other' }), { name: 'DuplicateSkuError' });
    });

    test('update merges fields and keeps the rest; unknown id is null', async () => {
      const p = await repo.create(sample());
      const u = await repo.update(p.id, { name: 'Renamed', price: { amount: 1, currency: 'EUR' } });
      assert.deepEqual(u, { ...p, name: 'Renamed', price: { amount: 1, currency: 'EUR' } });
      assert.deepEqual(await repo.get(p.id), u);
      assert.equal(await repo.update(randomUUID(), { name: 'x' }), null);
    });

    test('list: category filter, cursor pages of bounded size cover everything once', async () => {
      const cat = `cat-${randomUUID().slice(0, 6)}`;
      const made = [];
      for (let i = 0; i < 7; i++) made.push(await repo.create(sample({ category: cat, name: `Thing ${i}` })));
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await repo.list({ category: cat, limit: 3, cursor });
        assert.ok(page.items.length <= 3);
        seen.push(...page.items.map((p) => p.id));
        cursor = page.nextCursor ?? undefined;
        pages++;
      } while (cursor);
      assert.equal(pages, 3);
      assert.deepEqual(seen.sort(), made.map((p) => p.id).sort());
      // A cursor the store did not make is refused (a 400 at the API), never read as an empty page.
      for (const cursor of ['%%%', Buffer.from('a|b').toString('base64url'), 'Zm9vYmFy=='])
        await assert.rejects(repo.list({ limit: 10, cursor }), InvalidCursorError, cursor);
    });

    // Not registered at all where the server cannot search (see ContractOptions).
    if (options.textSearch !== false)
      test('list: full-text search by name, combined with the category', async () => {
        const cat = `cat-${randomUUID().slice(0, 6)}`;
        for (let i = 0; i < 4; i++)
          await repo.create(
            sample({
              category: cat,
              name: i === 3 ? 'Espresso grinder' : `Thing ${i}`,
              description: 'useful',
            }),
          );
        const found = await repo.list({ q: 'grinder', category: cat, limit: 10 });
        assert.deepEqual(
          found.items.map((p) => p.name),
          ['Espresso grinder'],
        );
        assert.equal(found.nextCursor, null);
        const none = await repo.list({ q: 'zeppelin', limit: 10 });
        assert.equal(none.items.length, 0);
      });

    test('reserve takes stock and prices the lines from the catalog; replay changes nothing', async () => {
      const a = await repo.create(sample({ stock: 5, price: { amount: 300, currency: 'EUR' } }));
      const b = await repo.create(sample({ stock: 2 }));
      const order = randomUUID();
      const r = await repo.reserve(order, [
        { productId: a.id, quantity: 2 },
        { productId: b.id, quantity: 1 },
      ]);
      assert.equal(r.status, 'reserved');
      assert.equal(r.changed, true);
      const la = r.lines.find((l) => l.productId === a.id);
      assert.deepEqual(la?.unitPrice, { amount: 300, currency: 'EUR' });
      assert.equal(la?.stock, 3);
      assert.equal(la?.stockBefore, 5);
      const again = await repo.reserve(order, [{ productId: a.id, quantity: 2 }]);
      assert.equal(again.changed, false);
      assert.deepEqual(again.lines, r.lines);
      assert.equal((await repo.get(a.id))?.stock, 3);
      assert.equal((await repo.get(b.id))?.stock, 1);
    });

    test('all or nothing: a short line leaves every stock as it was', async () => {
      const a = await repo.create(sample({ stock: 5 }));
      const b = await repo.create(sample({ stock: 1 }));
      const lines = [
        { productId: a.id, quantity: 2 },
        { productId: b.id, quantity: 2 },
      ].sort((x, y) => (x.productId < y.productId ? -1 : 1));
      await assert.rejects(
        repo.reserve(randomUUID(), lines),
        (err) =>
          err instanceof ReservationError && err.reason === 'insufficient_stock' && err.productId === b.id,
      );
      assert.equal((await repo.get(a.id))?.stock, 5);
      assert.equal((await repo.get(b.id))?.stock, 1);
      await assert.rejects(
        repo.reserve(randomUUID(), [{ productId: randomUUID(), quantity: 1 }]),
        (err) => err instanceof ReservationError && err.reason === 'unknown_product',
      );
    });

    test('a refused reservation does not burn its order id', async () => {
      const a = await repo.create(sample({ stock: 1 }));
      const order = randomUUID();
      await assert.rejects(repo.reserve(order, [{ productId: a.id, quantity: 2 }]));
      const r = await repo.reserve(order, [{ productId: a.id, quantity: 1 }]);
      assert.equal(r.changed, true);
      assert.equal((await repo.get(a.id))?.stock, 0);
    });

    test('release gives stock back once; releasing twice changes nothing', async () => {
      const a = await repo.create(sample({ stock: 4 }));
      const order = randomUUID();
      await repo.reserve(order, [{ productId: a.id, quantity: 3 }]);
      const r1 = await repo.release(order);
      assert.equal(r1.status, 'released');
      assert.equal(r1.changed, true);
      assert.equal(r1.lines[0]?.stock, 4);
      const r2 = await repo.release(order);
      assert.equal(r2.changed, false);
      assert.equal((await repo.get(a.id))?.stock, 4);
    });

    test('release before reserve (a timed-out reserve arriving late) blocks the reserve', async () => {
      const a = await repo.create(sample({ stock: 4 }));
      const order = randomUUID();
      const r = await repo.release(order);
      assert.equal(r.status, 'released');
      await assert.rejects(
        repo.reserve(order, [{ productId: a.id, quantity: 1 }]),
        (err) => err instanceof ReservationError && err.reason === 'already_released',
      );
      assert.equal((await repo.get(a.id))?.stock, 4);
    });

    if (options.atomicUpdates !== false)
      test('N parallel orders for the last K items: exactly K succeed, stock ends at 0', async () => {
        const K = 5;
        const N = 25;
        const p = await repo.create(sample({ stock: K }));
        const results = await Promise.allSettled(
          Array.from({ length: N }, () => repo.reserve(randomUUID(), [{ productId: p.id, quantity: 1 }])),
        );
        const ok = results.filter((r) => r.status === 'fulfilled').length;
        const refused = results.filter(
          (r) =>
            r.status === 'rejected' &&
            r.reason instanceof ReservationError &&
            r.reason.reason === 'insufficient_stock',
        ).length;
        assert.equal(ok, K);
        assert.equal(refused, N - K);
        assert.equal((await repo.get(p.id))?.stock, 0);
      });

    test('parallel replays of one order id reserve once', async () => {
      const p = await repo.create(sample({ stock: 10 }));
      const order = randomUUID();
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, () => repo.reserve(order, [{ productId: p.id, quantity: 2 }])),
      );
      assert.ok(results.some((r) => r.status === 'fulfilled'));
      assert.equal((await repo.get(p.id))?.stock, 8);
    });

    test('seed fills an empty store once', async () => {
      const fresh = await open();
      try {
        assert.equal(await fresh.repo.seed(DEMO_PRODUCTS), DEMO_PRODUCTS.length);
        assert.equal(await fresh.repo.seed(DEMO_PRODUCTS), 0);
        const first = DEMO_PRODUCTS[0];
        assert.ok(first);
        assert.deepEqual(await fresh.repo.get(first.id), first);
      } finally {
        await fresh.repo.close();
        await fresh.drop();
      }
    });
  });
}
