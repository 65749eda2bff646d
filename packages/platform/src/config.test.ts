import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { ConfigError, parseConfig, postgresUrl, redisFailoverShape, serviceConfig } from './config.js';

const schema = serviceConfig(8081, { DATABASE_URL: postgresUrl() });
const local = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/users' };

test('a valid environment parses into typed values with defaults', () => {
  const cfg = parseConfig(schema, { DATABASE_URL: 'postgres://u:p@db:5432/users', PORT: '9000' });
  assert.equal(cfg.PORT, 9000);
  assert.equal(cfg.DATABASE_URL, 'postgres://u:p@db:5432/users');
  assert.equal(cfg.SHUTDOWN_TIMEOUT_MS, 10_000);
  assert.equal(cfg.FLAGS_PROVIDER, 'none');
});

test('local defaults apply outside production only', () => {
  assert.equal(parseConfig(schema, {}, local).DATABASE_URL, local.DATABASE_URL);
  assert.throws(
    () => parseConfig(schema, { NODE_ENV: 'production' }, local),
    (err: unknown) => err instanceof ConfigError && err.message === 'config error: DATABASE_URL is missing',
  );
});

test('a malformed setting names the setting and the problem, never the value', () => {
  const secret = 'mysql://admin:hunter2@db/users';
  assert.throws(
    () => parseConfig(schema, { DATABASE_URL: secret }),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.setting === 'DATABASE_URL' &&
      /must be a URL with scheme postgres:\/\//.test(err.message) &&
      !err.message.includes('hunter2'),
  );
  assert.throws(() => parseConfig(schema, { ...local, PORT: 'eighty' }), /config error: PORT is invalid/);
  assert.throws(() => parseConfig(schema, { ...local, PORT: '70000' }), /config error: PORT is invalid/);
});

test('cross-field rules: the file provider needs FLAGS_FILE', () => {
  assert.throws(
    () => parseConfig(schema, { ...local, FLAGS_PROVIDER: 'file' }),
    /^ConfigError: config error: FLAGS_FILE is required when FLAGS_PROVIDER=file$/m,
  );
});

test('an empty value counts as unset', () => {
  assert.equal(parseConfig(schema, { DATABASE_URL: '' }, local).DATABASE_URL, local.DATABASE_URL);
});

test('a service with bad configuration exits 78 with one line on stderr and no stack trace', () => {
  const res = spawnSync(
    process.execPath,
    ['--conditions=mdp-source', '--import', 'tsx', 'services/user-service/src/server.ts'],
    {
      cwd: new URL('../../../', import.meta.url).pathname,
      env: { PATH: process.env.PATH, NODE_ENV: 'production', REDIS_URL: 'redis://127.0.0.1:6379' },
      encoding: 'utf8',
      timeout: 20_000,
    },
  );
  assert.equal(res.status, 78);
  assert.equal(res.stderr.trim(), 'config error: DATABASE_URL is missing');
  assert.equal(res.stdout, '');
});

test('Redis behind Sentinel: REDIS_SENTINELS parses into addresses, a bad list names the setting', () => {
  const redis = serviceConfig(8080, redisFailoverShape());
  const plain = parseConfig(redis, { REDIS_URL: 'redis://:pw@redis:6379' });
  assert.equal(plain.REDIS_SENTINELS, undefined);
  assert.equal(plain.REDIS_MASTER_NAME, 'mdp');
  const ha = parseConfig(redis, {
    REDIS_URL: 'redis://:pw@redis:6379/0',
    REDIS_SENTINELS: 'redis-0.redis-headless:26379, redis-1.redis-headless:26379',
    REDIS_MASTER_NAME: 'shop',
  });
  assert.deepEqual(ha.REDIS_SENTINELS, [
    { host: 'redis-0.redis-headless', port: 26379 },
    { host: 'redis-1.redis-headless', port: 26379 },
  ]);
  assert.equal(ha.REDIS_MASTER_NAME, 'shop');
  assert.throws(
    () => parseConfig(redis, { REDIS_URL: 'redis://r:6379', REDIS_SENTINELS: 'redis-0 26379' }),
    /config error: REDIS_SENTINELS must be a comma-separated list of host:port/,
  );
});
