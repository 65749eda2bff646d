/**
 * databases/mongodb/init.js, run the way the mongodb-init Job runs it (`mongosh URI init.js`; mongosh
 * is an npm tool pinned in tools/mongosh, installed into <repo>/.tools/bin by scripts/install-tools.sh), against FerretDB v1 (<repo>/.tools/bin/ferretdb) on this machine's
 * PostgreSQL: twice (idempotent), then the adapter reads its products and initialises on top of it.
 * FerretDB v1 has no collection validators and no text indexes, so those two steps of init.js are
 * switched off here (CATALOG_VALIDATORS=off, CATALOG_TEXT_INDEX=off) and stay unproven
 * (services/product-service/README.md).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { type FerretDb, startFerretDb } from '@mdp/platform/testing';
import { repoRoot, toolPath } from '@mdp/platform/tools';
import { MongoClient } from 'mongodb';
import { MongoProductRepository } from '../src/adapters/mongodb.js';
import { DEMO_PRODUCTS } from '../src/seed-data.js';

const run = promisify(execFile);
const root = repoRoot();
let mongosh = '';

let ferret: FerretDb;
before(async () => {
  // <repo>/.tools/bin/mongosh (tools/mongosh, scripts/install-tools.sh); missing throws.
  mongosh = toolPath('mongosh');
  ferret = await startFerretDb('mongo_init');
});
after(async () => {
  await ferret?.stop();
});

const initJs = (url: string, features: 'off' | 'on' = 'off') =>
  run(mongosh, ['--quiet', '--norc', url, path.join(root, 'databases/mongodb/init.js')], {
    env: {
      ...process.env,
      CATALOG_VALIDATORS: features,
      CATALOG_TEXT_INDEX: features,
      DO_NOT_TRACK: '1',
    },
    timeout: 120_000,
  });

test('as in production (validators on), init.js fails on FerretDB v1 and mongosh exits non-zero', async () => {
  await assert.rejects(initJs(`${ferret.url}admin`, 'on'), (err: { code?: number; stderr?: string }) => {
    assert.notEqual(err.code, 0);
    assert.match(String(err.stderr), /NotImplemented|not implemented/i);
    return true;
  });
});

test('init.js (mongosh) creates the catalog collections, indexes and demo products, idempotently', async () => {
  // Connected to another database on purpose: the script picks `catalog` itself (getSiblingDB).
  const url = `${ferret.url}admin`;
  const first = await initJs(url);
  assert.match(first.stdout, new RegExp(`catalog ready: ${DEMO_PRODUCTS.length} products`));
  const second = await initJs(url);
  assert.match(second.stdout, new RegExp(`catalog ready: ${DEMO_PRODUCTS.length} products`));

  const client = new MongoClient(`${ferret.url}catalog`, { serverSelectionTimeoutMS: 3000 });
  try {
    const db = client.db();
    const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
    assert.deepEqual(names, ['products', 'stock_reservations']);
    // Keys as entries: the order of a compound index's fields matters.
    const indexes = async (c: string) =>
      (await db.collection(c).listIndexes().toArray())
        .map((i) => ({ name: i.name, key: Object.entries(i.key), unique: i.unique === true }))
        .sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(await indexes('products'), [
      { name: '_id_', key: [['_id', 1]], unique: false },
      {
        name: 'category_id',
        key: [
          ['category', 1],
          ['_id', 1],
        ],
        unique: false,
      },
      { name: 'sku_unique', key: [['sku', 1]], unique: true },
    ]);
    assert.deepEqual(
      (await indexes('stock_reservations')).map((i) => i.name),
      ['_id_', 'status_updated'],
    );
    // Money and stock are integers in BSON (NumberLong / NumberInt), never doubles.
    const kb = await db.collection('products').findOne({ sku: 'KB-001' }, { promoteValues: false });
    assert.equal(kb?.price.amount._bsontype, 'Long');
    assert.equal(kb?.stock._bsontype, 'Int32');
  } finally {
    await client.close();
  }

  // The adapter reads exactly src/seed-data.ts's products from what init.js wrote, and its own
  // ensureSchema() agrees with init.js's indexes (same names and keys: no conflict).
  const repo = new MongoProductRepository(`${ferret.url}catalog`, { validator: false, textIndex: false });
  try {
    await repo.ensureSchema();
    for (const p of DEMO_PRODUCTS) assert.deepEqual(await repo.get(p.id), p, p.sku);
    assert.equal(await repo.seed(DEMO_PRODUCTS), 0, 'the store is not empty: seed adds nothing');
  } finally {
    await repo.close();
  }
});
