// The catalog's schema in MongoDB (owned by the commerce issue; this is the minimal version the
// Kubernetes manifests need). Run by the mongodb-init Job with mongosh against the `catalog`
// database after the replica set is up. Idempotent: safe on every sync.
/* global db */
const existing = db.getCollectionNames();
const validator = {
  $jsonSchema: {
    bsonType: 'object',
    required: ['sku', 'name', 'category', 'price', 'stock'],
    properties: {
      sku: { bsonType: 'string' },
      name: { bsonType: 'string' },
      description: { bsonType: 'string' },
      category: { bsonType: 'string' },
      price: {
        bsonType: 'object',
        required: ['amount', 'currency'],
        properties: {
          amount: { bsonType: ['int', 'long'], minimum: 0 },
          currency: { bsonType: 'string', pattern: '^[A-Z]{3}$' },
        },
      },
      stock: { bsonType: ['int', 'long'], minimum: 0 },
    },
  },
};
if (existing.includes('products')) db.runCommand({ collMod: 'products', validator });
else db.createCollection('products', { validator });
db.products.createIndex({ sku: 1 }, { unique: true, name: 'sku_unique' });
db.products.createIndex({ category: 1, _id: 1 }, { name: 'category_cursor' });
db.products.createIndex({ name: 'text', description: 'text' }, { name: 'products_text' });
