import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyAccessToken } from '@mdp/platform/auth';
import { packageRoot } from '@mdp/platform/paths';
import { Argon2Passwords } from '../src/adapters/passwords.js';
import { SEED_ADMIN_ID, SEED_SQL, seedUsers, seedUsersFromSql, usersSeedSql } from '../src/seed.js';
import { startUserService, type UserServiceHarness } from './harness.js';

const repo = path.resolve(packageRoot(import.meta.url), '../..');
const envExample = readFileSync(path.join(repo, '.env.example'), 'utf8');
const setting = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(envExample)?.[1]?.trim();

describe('seeds', () => {
  let h: UserServiceHarness;
  before(async () => {
    h = await startUserService();
  });
  after(() => h.close());

  it('seed.sql creates admin@mdp.local whose password is the one in .env.example; it is idempotent', async () => {
    const password = setting('SEED_ADMIN_PASSWORD');
    assert.ok(password, '.env.example has no SEED_ADMIN_PASSWORD');
    assert.ok(
      !readFileSync(path.join(repo, 'databases/postgresql/demo-seed/seed.sql'), 'utf8').includes(password),
    );
    assert.equal(await seedUsersFromSql(h.pool, SEED_SQL), true);
    assert.equal(await seedUsersFromSql(h.pool, SEED_SQL), false);
    // The SQL itself is idempotent too (the Kubernetes seed Job runs it on every sync).
    await h.pool.query(usersSeedSql(SEED_SQL));
    const { rows } = await h.pool.query("SELECT id, role FROM users WHERE email = 'admin@mdp.local'");
    assert.deepEqual(rows, [{ id: SEED_ADMIN_ID, role: 'admin' }]);
    const login = await h.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: setting('SEED_ADMIN_EMAIL') ?? 'admin@mdp.local', password },
    });
    assert.equal(login.statusCode, 200, login.body);
    const claims = await verifyAccessToken(login.json().accessToken, h.keys.publicKey);
    assert.equal(claims.role, 'admin');
    assert.equal(claims.sub, SEED_ADMIN_ID);
  });

  it('seed.ts inserts the admin only into an empty users table', async () => {
    const cheap = new Argon2Passwords({ memoryCost: 1024, timeCost: 1 });
    // The table is not empty (previous test): nothing happens.
    assert.equal(
      await seedUsers(h.pool, { email: 'other@mdp.local', password: 'longenough1' }, cheap),
      false,
    );
    await h.pool.query('DELETE FROM users');
    assert.equal(
      await seedUsers(h.pool, { email: ' Boss@MDP.local ', password: 'longenough1' }, cheap),
      true,
    );
    assert.equal(await seedUsers(h.pool, { email: 'boss@mdp.local', password: 'longenough1' }, cheap), false);
    const { rows } = await h.pool.query('SELECT email, role FROM users');
    assert.deepEqual(rows, [{ email: 'boss@mdp.local', role: 'admin' }]);
    const login = await h.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: 'boss@mdp.local', password: 'longenough1' },
    });
    assert.equal(login.statusCode, 200);
    await assert.rejects(
      seedUsers(h.pool, { email: 'x@mdp.local', password: 'short' }, cheap),
      /SEED_ADMIN_PASSWORD/,
    );
  });
});
