// Replica set bootstrap for mongosh (see rs-init.sh). Environment: POD_NAMESPACE,
// MONGODB_REPLICAS, PRODUCT_SERVICE_DB_PASSWORD.
/* global db, rs, sleep, print, process */
const ns = process.env.POD_NAMESPACE;
const replicas = Number(process.env.MONGODB_REPLICAS || '1');
const hosts = Array.from(
  { length: replicas },
  (_, i) => `mongodb-${i}.mongodb-headless.${ns}.svc.cluster.local:27017`,
);

let initiated = true;
try {
  rs.status();
} catch (err) {
  if (err.codeName !== 'NotYetInitialized') throw err;
  initiated = false;
}
if (!initiated) {
  rs.initiate({ _id: 'rs0', members: hosts.map((host, i) => ({ _id: i, host })) });
  print(`rs0 initiated with ${replicas} member(s)`);
}
for (let i = 0; i < 120 && !db.hello().isWritablePrimary; i++) sleep(1000);
if (!db.hello().isWritablePrimary) throw new Error('no primary after 120 s');

const known = rs.conf().members.map((m) => m.host);
for (const host of hosts) {
  if (!known.includes(host)) {
    rs.add(host);
    print(`added ${host}`);
  }
}

const catalog = db.getSiblingDB('catalog');
const pwd = process.env.PRODUCT_SERVICE_DB_PASSWORD;
const roles = [{ role: 'readWrite', db: 'catalog' }];
if (catalog.getUser('product_service')) catalog.updateUser('product_service', { pwd, roles });
else catalog.createUser({ user: 'product_service', pwd, roles });
print('product_service user ready');
