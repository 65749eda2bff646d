import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot } from './helpers.js';

/**
 * databases/postgresql/init.sql against a private, throw-away PostgreSQL 15 cluster
 * (initdb in a temporary directory, Unix socket only, no TCP port): the shared server of
 * this machine is never touched. PostgreSQL refuses to run as root, so the cluster runs as
 * the postgres system user.
 */
const BIN = '/usr/lib/postgresql/15/bin';
const SERVICES: [string, string][] = [
  ['user_service', 'users'],
  ['product_service', 'catalog'],
  ['order_service', 'orders'],
  ['notification_service', 'notifications'],
];
const canRun = process.getuid?.() === 0 && existsSync(`${BIN}/initdb`);
const reason = canRun
  ? undefined
  : 'needs root (to run PostgreSQL as the postgres user) and PostgreSQL 15 server binaries';

describe('PostgreSQL init.sql', { skip: reason }, () => {
  let dir = '';
  const port = '5433';
  const pg = (...args: string[]) =>
    spawnSync('runuser', ['-u', 'postgres', '--', ...args], { encoding: 'utf8', timeout: 60_000 });
  const psql = (user: string, db: string, ...args: string[]) =>
    spawnSync(
      'psql',
      ['-h', dir, '-p', port, '-U', user, '-d', db, '-v', 'ON_ERROR_STOP=1', '-X', '-q', ...args],
      { encoding: 'utf8', timeout: 30_000 },
    );

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'mdp-pg-'));
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    chownSync(dir, uid, gid);
    const init = pg(`${BIN}/initdb`, '-D', `${dir}/data`, '-A', 'trust', '-U', 'postgres');
    assert.equal(init.status, 0, init.stderr);
    // -l: the server writes to a file, so it keeps no pipe of ours open after pg_ctl exits.
    const start = pg(
      `${BIN}/pg_ctl`,
      '-D',
      `${dir}/data`,
      '-l',
      `${dir}/server.log`,
      '-w',
      '-o',
      `-c listen_addresses='' -k ${dir} -p ${port}`,
      'start',
    );
    assert.equal(start.status, 0, start.stderr);
  });

  after(() => {
    if (dir) {
      pg(`${BIN}/pg_ctl`, '-D', `${dir}/data`, '-m', 'immediate', '-w', 'stop');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('creates the four databases, each owned by its service role, and can run again', () => {
    for (let i = 0; i < 2; i++) {
      const res = psql('postgres', 'postgres', '-f', path.join(repoRoot, 'databases/postgresql/init.sql'));
      assert.equal(res.status, 0, res.stderr);
    }
    const owners = psql(
      'postgres',
      'postgres',
      '-At',
      '-c',
      "select datname || '=' || pg_get_userbyid(datdba) from pg_database where datname in ('users','catalog','orders','notifications') order by 1",
    );
    assert.deepEqual(owners.stdout.trim().split('\n'), [
      'catalog=product_service',
      'notifications=notification_service',
      'orders=order_service',
      'users=user_service',
    ]);
    const roles = psql(
      'postgres',
      'postgres',
      '-At',
      '-c',
      "select count(*) from pg_roles where rolname like '%\\_service' and (rolsuper or rolcreatedb or rolcreaterole)",
    );
    assert.equal(roles.stdout.trim(), '0');
  });

  test('00-init.sh (the Kubernetes first-start step) runs init.sql and sets every role password', () => {
    const res = spawnSync('bash', [path.join(repoRoot, 'databases/postgresql/00-init.sh')], {
      encoding: 'utf8',
      timeout: 30_000,
      env: {
        ...process.env,
        PGHOST: dir,
        PGPORT: port,
        POSTGRES_USER: 'postgres',
        MDP_SQL_DIR: path.join(repoRoot, 'databases/postgresql'),
        USER_SERVICE_DB_PASSWORD: 'pw-user',
        PRODUCT_SERVICE_DB_PASSWORD: 'pw-product',
        ORDER_SERVICE_DB_PASSWORD: 'pw-order',
        NOTIFICATION_SERVICE_DB_PASSWORD: "pw-'quoted",
      },
    });
    assert.equal(res.status, 0, res.stderr);
    const set = psql(
      'postgres',
      'postgres',
      '-At',
      '-c',
      "select rolname from pg_authid where rolname like '%\\_service' and rolpassword like 'SCRAM-SHA-256$%' order by 1",
    );
    assert.deepEqual(set.stdout.trim().split('\n'), [
      'notification_service',
      'order_service',
      'product_service',
      'user_service',
    ]);
  });

  test('each role works in its own database and cannot even connect to the others', () => {
    for (const [role, db] of SERVICES) {
      const own = psql(
        role,
        db,
        '-c',
        'create table probe (id int); insert into probe values (1); drop table probe;',
      );
      assert.equal(own.status, 0, `${role} in ${db}: ${own.stderr}`);
      for (const [, other] of SERVICES) {
        if (other === db) continue;
        const res = psql(role, other, '-c', 'select 1');
        assert.notEqual(res.status, 0, `${role} reached ${other}`);
        assert.match(res.stderr, /permission denied for database/);
      }
    }
  });
});
