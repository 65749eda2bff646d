// MongoDB catalog for product-service (database `catalog`): collection validators, indexes
// (including the text index behind `GET /products?q=`) and the demo products.
// Run with: mongosh "mongodb://HOST:27017/catalog" databases/mongodb/init.js
// (or mount it in /docker-entrypoint-initdb.d/ of the official image). Idempotent.
// Keep the validator and indexes in step with services/product-service/src/adapters/mongodb.ts
// (whose init() applies the same ones), and the products with src/seed-data.ts.
// services/product-service/test/mongodb-init.test.ts runs this file with mongosh (twice) against
// FerretDB v1, which has no collection validators (create/collMod: NotImplemented) and no text
// indexes: that test sets CATALOG_VALIDATORS=off and CATALOG_TEXT_INDEX=off. MongoDB 7 (the
// mongodb-init Job) keeps both on, as they are when the variables are unset.

const catalog = db.getSiblingDB('catalog');
const withValidators = process.env.CATALOG_VALIDATORS !== 'off';
const withTextIndex = process.env.CATALOG_TEXT_INDEX !== 'off';

const productValidator = {
  $jsonSchema: {
    bsonType: 'object',
    required: ['_id', 'sku', 'name', 'description', 'category', 'price', 'stock'],
    properties: {
      _id: { bsonType: 'string' },
      sku: { bsonType: 'string', minLength: 1 },
      name: { bsonType: 'string', minLength: 1 },
      description: { bsonType: 'string' },
      category: { bsonType: 'string', minLength: 1 },
      price: {
        bsonType: 'object',
        required: ['amount', 'currency'],
        properties: {
          amount: { bsonType: ['int', 'long', 'double'], minimum: 0, multipleOf: 1 },
          currency: { bsonType: 'string', pattern: '^[A-Z]{3}$' },
        },
      },
      stock: { bsonType: ['int', 'long', 'double'], minimum: 0, multipleOf: 1 },
    },
  },
};

const reservationValidator = {
  $jsonSchema: {
    bsonType: 'object',
    required: ['_id', 'status', 'lines'],
    properties: {
      _id: { bsonType: 'string' },
      status: { enum: ['pending', 'reserved', 'released'] },
      lines: { bsonType: 'array' },
    },
  },
};

const existing = catalog.getCollectionNames();
for (const [name, validator] of [
  ['products', productValidator],
  ['stock_reservations', reservationValidator],
]) {
  if (!withValidators) {
    if (!existing.includes(name)) catalog.createCollection(name);
  } else if (existing.includes(name)) {
    catalog.runCommand({ collMod: name, validator, validationLevel: 'strict' });
  } else {
    catalog.createCollection(name, { validator, validationLevel: 'strict', validationAction: 'error' });
  }
}

catalog.products.createIndex({ sku: 1 }, { name: 'sku_unique', unique: true });
catalog.products.createIndex({ category: 1, _id: 1 }, { name: 'category_id' });
if (withTextIndex) {
  catalog.products.createIndex(
    { name: 'text', description: 'text' },
    { name: 'text_search', weights: { name: 3, description: 1 } },
  );
}
catalog.stock_reservations.createIndex({ status: 1, updatedAt: 1 }, { name: 'status_updated' });

const now = new Date();
const products = [
  {
    _id: '00000000-0000-4000-8000-000000000101',
    sku: 'KB-001',
    name: 'Mechanical keyboard',
    description: 'Tenkeyless mechanical keyboard with brown switches',
    category: 'peripherals',
    price: { amount: NumberLong(8999), currency: 'EUR' },
    stock: NumberInt(40),
  },
  {
    _id: '00000000-0000-4000-8000-000000000102',
    sku: 'MS-001',
    name: 'Wireless mouse',
    description: 'Ergonomic wireless mouse with a silent click',
    category: 'peripherals',
    price: { amount: NumberLong(2999), currency: 'EUR' },
    stock: NumberInt(120),
  },
  {
    _id: '00000000-0000-4000-8000-000000000103',
    sku: 'MN-001',
    name: '27 inch monitor',
    description: 'QHD IPS monitor, 144 Hz, height adjustable stand',
    category: 'displays',
    price: { amount: NumberLong(32900), currency: 'EUR' },
    stock: NumberInt(15),
  },
  {
    _id: '00000000-0000-4000-8000-000000000104',
    sku: 'MN-002',
    name: '24 inch monitor',
    description: 'Full HD monitor for the home office',
    category: 'displays',
    price: { amount: NumberLong(14900), currency: 'EUR' },
    stock: NumberInt(25),
  },
  {
    _id: '00000000-0000-4000-8000-000000000105',
    sku: 'HS-001',
    name: 'Noise cancelling headset',
    description: 'Over-ear headset with active noise cancelling and a boom microphone',
    category: 'audio',
    price: { amount: NumberLong(17900), currency: 'EUR' },
    stock: NumberInt(30),
  },
  {
    _id: '00000000-0000-4000-8000-000000000106',
    sku: 'SP-001',
    name: 'Desk speakers',
    description: 'A pair of compact powered desk speakers',
    category: 'audio',
    price: { amount: NumberLong(7900), currency: 'EUR' },
    stock: NumberInt(18),
  },
  {
    _id: '00000000-0000-4000-8000-000000000107',
    sku: 'CB-001',
    name: 'USB-C cable',
    description: 'Braided USB-C to USB-C cable, 2 metres, 100 W',
    category: 'accessories',
    price: { amount: NumberLong(1499), currency: 'EUR' },
    stock: NumberInt(500),
  },
  {
    _id: '00000000-0000-4000-8000-000000000108',
    sku: 'DK-001',
    name: 'USB-C dock',
    description: 'Docking station with two display outputs and ethernet',
    category: 'accessories',
    price: { amount: NumberLong(19900), currency: 'EUR' },
    stock: NumberInt(12),
  },
  {
    _id: '00000000-0000-4000-8000-000000000109',
    sku: 'WC-001',
    name: 'Webcam',
    description: '1080p webcam with a privacy shutter',
    category: 'peripherals',
    price: { amount: NumberLong(5900), currency: 'EUR' },
    stock: NumberInt(60),
  },
  {
    _id: '00000000-0000-4000-8000-000000000110',
    sku: 'LS-001',
    name: 'Laptop stand',
    description: 'Aluminium laptop stand, foldable',
    category: 'accessories',
    price: { amount: NumberLong(3900), currency: 'EUR' },
    stock: NumberInt(75),
  },
  {
    _id: '00000000-0000-4000-8000-000000000111',
    sku: 'SSD-001',
    name: 'Portable SSD 1 TB',
    description: 'USB-C portable solid state drive, 1 TB',
    category: 'storage',
    price: { amount: NumberLong(10900), currency: 'EUR' },
    stock: NumberInt(45),
  },
  {
    _id: '00000000-0000-4000-8000-000000000112',
    sku: 'MP-001',
    name: 'Desk mat',
    description: 'Large felt desk mat',
    category: 'accessories',
    price: { amount: NumberLong(2499), currency: 'EUR' },
    stock: NumberInt(200),
  },
];
for (const p of products) {
  catalog.products.updateOne(
    { _id: p._id },
    { $setOnInsert: { ...p, createdAt: now, updatedAt: now } },
    { upsert: true },
  );
}
print(`catalog ready: ${catalog.products.countDocuments()} products`);
