/**
 * `npm run bench:hot-paths`: the CPU cost of single hot-path calls, measured in this process
 * with process.cpuUsage() over many calls, so the figure holds on a loaded machine where the
 * end-to-end benchmarks move with the load. Each line: what was called, calls, CPU µs per call.
 *   token, first sight   verifyAccessToken of a new token each time (a full Ed25519 check)
 *   token, seen before   verifyAccessToken of the same token again (what every request of a session is)
 *   order + event, 5 statements   BEGIN, INSERT, INSERT outbox, SELECT pg_notify, COMMIT (the order
 *                        transaction before issue 16), on a fresh database of the machine's PostgreSQL
 *   order + event, 1 statement    the same rows through withOutboxEvent (one round trip)
 * (client CPU of this process only; PostgreSQL's own CPU is not counted).
 * Settings: HOT_PATH_CALLS (default 20000; the database paths run a tenth of it).
 */
import { randomUUID } from 'node:crypto';
import { generateSigningKeys, importPublicKey, signAccessToken, verifyAccessToken } from '@mdp/platform/auth';
import { OUTBOX_SQL, withOutboxEvent } from '@mdp/platform/outbox';
import { createPgPool } from '@mdp/platform/postgres';
import { tempDatabase, testEvent } from '@mdp/platform/testing';

const calls = Number(process.env.HOT_PATH_CALLS ?? 20_000);
const say = (s: string) => process.stdout.write(`${s}\n`);
const WARM = 1000;

async function cpuPerCall(name: string, n: number, fn: (i: number) => Promise<unknown>) {
  for (let i = 0; i < WARM; i++) await fn(n + i); // warm-up (JIT), on indexes past the measured ones
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn(i);
  const t = process.cpuUsage(t0);
  say(
    `${name.padEnd(34)} ${String(n).padStart(7)} calls ${((t.user + t.system) / n).toFixed(1).padStart(8)} µs CPU/call`,
  );
}

const keys = await generateSigningKeys();
const key = await importPublicKey(keys.publicKey);
const firstSight = Math.min(calls, 5000);
const fresh = await Promise.all(
  Array.from({ length: firstSight + WARM }, (_, i) =>
    signAccessToken({ id: `u-${i}`, role: 'customer' }, keys.privateKey).then((t) => t.token),
  ),
);
await cpuPerCall('token, first sight', firstSight, (i) => verifyAccessToken(fresh[i] as string, key));
const { token } = await signAccessToken({ id: 'u-same', role: 'customer' }, keys.privateKey);
await cpuPerCall('token, seen before', calls, () => verifyAccessToken(token, key));

const db = await tempDatabase('hot_paths');
const pool = createPgPool(db.url, { applicationName: 'bench-hot-paths', max: 1 });
try {
  await pool.query(`${OUTBOX_SQL} CREATE TABLE orders (id uuid PRIMARY KEY, body jsonb NOT NULL);`);
  const order = () => ({
    id: randomUUID(),
    body: JSON.stringify({ items: [{ productId: 'p', quantity: 1 }] }),
  });
  const event = () => testEvent('order.created', { orderId: 'o' });
  const dbCalls = Math.max(100, Math.round(calls / 10));
  await cpuPerCall('order + event, 5 statements', dbCalls, async () => {
    const o = order();
    const e = event();
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('INSERT INTO orders (id, body) VALUES ($1, $2)', [o.id, o.body]);
      await c.query('INSERT INTO outbox (id, event_type, payload, trace_headers) VALUES ($1, $2, $3, $4)', [
        e.id,
        e.type,
        JSON.stringify(e),
        '{}',
      ]);
      await c.query('SELECT pg_notify($1, $2)', ['mdp_outbox', e.type]);
      await c.query('COMMIT');
    } finally {
      c.release();
    }
  });
  await cpuPerCall('order + event, 1 statement', dbCalls, async () => {
    const o = order();
    await pool.query(
      withOutboxEvent(
        { sql: 'INSERT INTO orders (id, body) VALUES ($1, $2)', params: [o.id, o.body] },
        event(),
      ),
    );
  });
} finally {
  await pool.end();
  await db.drop();
}
