import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import {
  createPgPool,
  databaseName,
  ensureDatabase,
  migrate,
  warmPool,
  withDatabase,
} from '../src/postgres.js';
import { TEST_PG_URL, type TempDatabase, tempDatabase, uniqueName } from '../src/testing.js';

let db: TempDatabase;
let dir: string;
before(async () => {
  db = await tempDatabase('migrate');
  dir = await mkdtemp(path.join(tmpdir(), 'mdp-migrations-'));
});
after(async () => {
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

test('migrations apply in order, once, and record what ran', async () => {
  await writeFile(
    path.join(dir, '0001_items.sql'),
    '-- Up Migration\nCREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);\n-- Down Migration\nDROP TABLE items;\n',
  );
  await writeFile(
    path.join(dir, '0002_items_sku.sql'),
    '-- Up Migration\nALTER TABLE items ADD COLUMN sku text UNIQUE;\n-- Down Migration\nALTER TABLE items DROP COLUMN sku;\n',
  );
  assert.deepEqual(await migrate(db.url, dir), ['0001_items', '0002_items_sku']);
  assert.deepEqual(await migrate(db.url, dir), [], 'nothing runs twice');
  const pool = createPgPool(db.url, { applicationName: 'migrate-test' });
  try {
    await pool.query("INSERT INTO items (name, sku) VALUES ('a', 'A-1')");
    const { rows } = await pool.query('SELECT name FROM pgmigrations ORDER BY id');
    assert.deepEqual(
      rows.map((r) => r.name),
      ['0001_items', '0002_items_sku'],
    );
  } finally {
    await pool.end();
  }
});

test('a failing migration rolls back entirely and is not recorded', async () => {
  await writeFile(
    path.join(dir, '0003_broken.sql'),
    '-- Up Migration\nCREATE TABLE half (id int);\nSELECT no_such_function();\n',
  );
  await assert.rejects(migrate(db.url, dir));
  const pool = createPgPool(db.url, { applicationName: 'migrate-test' });
  try {
    const { rowCount } = await pool.query("SELECT 1 FROM pg_tables WHERE tablename = 'half'");
    assert.equal(rowCount, 0, 'no half-applied migration');
  } finally {
    await pool.end();
  }
});

test('ensureDatabase creates once, tolerates a concurrent create, and refuses odd names', async () => {
  const url = withDatabase(TEST_PG_URL, uniqueName('ensure'));
  try {
    const results = await Promise.all([ensureDatabase(url), ensureDatabase(url), ensureDatabase(url)]);
    assert.equal(results.filter(Boolean).length, 1, 'exactly one creator');
    assert.equal(await ensureDatabase(url), false);
  } finally {
    const admin = new pg.Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${databaseName(url)}"`);
    await admin.end();
  }
  await assert.rejects(
    ensureDatabase(withDatabase(TEST_PG_URL, 'x"; DROP DATABASE postgres; --')),
    /unusual/,
  );
});

test('every pool query is bounded by the statement timeout', async () => {
  const pool = createPgPool(db.url, { applicationName: 'migrate-test', timeoutMs: 200 });
  try {
    await assert.rejects(pool.query('SELECT pg_sleep(2)'), /statement timeout|canceling statement/);
  } finally {
    await pool.end();
  }
});

test('a checked-out client whose session the server ends (as a failover does) does not crash the process', async () => {
  const pool = createPgPool(db.url, { applicationName: 'terminated-test' });
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    // The client's protocol connection ends after the server's 57P01; by then the client has
    // emitted its 'error' event, which would be an uncaught exception without a listener.
    const ended = new Promise((resolve) =>
      (client as unknown as { connection: NodeJS.EventEmitter }).connection.once('end', resolve),
    );
    await pool.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
    await ended;
    await assert.rejects(client.query('SELECT 1'));
  } finally {
    client.release(true);
  }
  // The pool serves again on a fresh connection.
  assert.equal((await pool.query('SELECT 1 AS one')).rows[0]?.one, 1);
  await pool.end();
});

test('warmPool opens the sessions at once, runs the statements on each, and the pool keeps them', async () => {
  const pool = createPgPool(db.url, { applicationName: 'warm-test', max: 5, min: 3 });
  try {
    // The statement marks each session it ran on; every later query must land on a marked one.
    const mark = `warmed-${uniqueName('s')}`;
    assert.deepEqual(await warmPool(pool, [`SET application_name = '${mark}'`]), { warmed: 3 });
    assert.equal(pool.totalCount, 3);
    assert.equal(pool.idleCount, 3);
    const { rows } = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
      [mark],
    );
    assert.equal(rows[0]?.n, 3, 'three server sessions ran the warm-up');
    const seen = await Promise.all(
      [1, 2, 3].map(() => pool.query<{ a: string }>("SELECT current_setting('application_name') AS a")),
    );
    assert.deepEqual(
      seen.map((r) => r.rows[0]?.a),
      [mark, mark, mark],
    );
  } finally {
    await pool.end();
  }
});

test("warmPool opens no more than the pool's max", async () => {
  const pool = createPgPool(db.url, { applicationName: 'warm-test', max: 2, min: 5 });
  try {
    assert.deepEqual(await warmPool(pool, ['SELECT 1']), { warmed: 2 });
    assert.equal(pool.totalCount, 2);
  } finally {
    await pool.end();
  }
});

test('warmPool does not throw: a failing statement closes its session, an unreachable server is reported', async () => {
  const pool = createPgPool(db.url, { applicationName: 'warm-test', max: 4, min: 2 });
  try {
    const r = await warmPool(pool, ['SELECT 1', 'SELECT no_such_function()']);
    assert.equal(r.warmed, 0);
    assert.match(String(r.error?.message), /no_such_function/);
    assert.equal(pool.totalCount, 0, 'no half-warmed session stays in the pool');
  } finally {
    await pool.end();
  }
  const down = createPgPool('postgres://postgres@127.0.0.1:1/none', { applicationName: 'warm-test', min: 2 });
  try {
    const r = await warmPool(down, ['SELECT 1']);
    assert.equal(r.warmed, 0);
    assert.match(String((r.error as NodeJS.ErrnoException | undefined)?.code), /ECONNREFUSED/);
  } finally {
    await down.end();
  }
});
