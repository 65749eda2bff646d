/** The one rule for migrations at start-up (runService → migrateAtStart): outside production only. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createPgPool } from '../src/postgres.js';
import { migrateAtStart } from '../src/service.js';
import { type TempDatabase, tempDatabase } from '../src/testing.js';

describe('migrations at start-up', () => {
  let db: TempDatabase;
  const dir = mkdtempSync(path.join(tmpdir(), 'migrations-'));
  writeFileSync(
    path.join(dir, '0001_things.sql'),
    '-- Up Migration\nCREATE TABLE things (id int);\n-- Down Migration\nDROP TABLE things;\n',
  );
  const spec = { name: 'demo-service', migrations: { setting: 'DATABASE_URL', dir } };

  before(async () => {
    db = await tempDatabase('migrations_rule');
  });
  after(async () => {
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('never in production: the migration Job applies them there; nothing is contacted', async () => {
    const applied = await migrateAtStart(spec, {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
    });
    assert.deepEqual(applied, []);
  });

  test('outside production the service applies its own, once', async () => {
    const config = { NODE_ENV: 'development', DATABASE_URL: db.url };
    assert.deepEqual(await migrateAtStart(spec, config), ['0001_things']);
    assert.deepEqual(await migrateAtStart(spec, config), [], 'idempotent');
    const pool = createPgPool(db.url, { applicationName: 'migrations-test' });
    try {
      assert.equal((await pool.query("SELECT to_regclass('things') AS t")).rows[0].t, 'things');
    } finally {
      await pool.end();
    }
  });

  test('a store that is not PostgreSQL has no SQL migrations (the catalog on MongoDB)', async () => {
    const config = { NODE_ENV: 'test', DATABASE_URL: 'mongodb://127.0.0.1:1/catalog' };
    assert.deepEqual(await migrateAtStart(spec, config), []);
  });
});
