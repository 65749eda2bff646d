import { MongoClient } from 'mongodb';

/** MongoDB database `catalog` (production). Every operation is bounded in time. */
export function connectMongo(url: string) {
  const client = new MongoClient(url, {
    appName: 'product-service',
    serverSelectionTimeoutMS: 3000,
    connectTimeoutMS: 3000,
    socketTimeoutMS: 10_000,
    maxPoolSize: 20,
  });
  client.connect().catch(() => {});
  const db = client.db();
  return {
    db,
    check: async () => {
      await db.command({ ping: 1 });
    },
    close: () => client.close(),
  };
}
