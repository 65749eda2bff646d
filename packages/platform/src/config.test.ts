import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { ConfigError, parseConfig, pem, postgresUrl, redisFailoverShape, serviceConfig } from './config.js';

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

test('cross-field rules: Flagsmith needs a key, an environment document or the fallback file; local evaluation a server-side key', () => {
  const fs = { ...local, FLAGS_PROVIDER: 'flagsmith' };
  assert.throws(() => parseConfig(schema, fs), /FLAGSMITH_ENVIRONMENT_KEY .*or FLAGS_FILE is required/);
  assert.equal(
    parseConfig(schema, { ...fs, FLAGS_FILE: '/etc/mdp/flags/flags.json' }).FLAGSMITH_LOCAL_EVALUATION,
    false,
  );
  const prod = { ...fs, FLAGSMITH_LOCAL_EVALUATION: 'true', FLAGSMITH_ENVIRONMENT_KEY: 'ser.abc' };
  assert.equal(parseConfig(schema, prod).FLAGSMITH_LOCAL_EVALUATION, true);
  assert.equal(parseConfig(schema, prod).FLAGSMITH_REFRESH_SECONDS, 60);
  assert.throws(
    () => parseConfig(schema, { ...prod, FLAGSMITH_ENVIRONMENT_KEY: 'client-side-key' }),
    /FLAGSMITH_ENVIRONMENT_KEY must be a server-side key/,
  );
});

test('an empty value counts as unset', () => {
  assert.equal(parseConfig(schema, { DATABASE_URL: '' }, local).DATABASE_URL, local.DATABASE_URL);
});

test('pem(): a key that does not parse, or of another type, is a config error naming the setting', () => {
  const keySchema = serviceConfig(8081, { JWT_PUBLIC_KEY: pem('PUBLIC KEY', 'ed25519') });
  const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();
  assert.equal(parseConfig(keySchema, { JWT_PUBLIC_KEY: ed }).JWT_PUBLIC_KEY, ed.trim());
  // As some secret stores hand it over: literal \n.
  assert.equal(
    parseConfig(keySchema, { JWT_PUBLIC_KEY: ed.replace(/\n/g, '\\n') }).JWT_PUBLIC_KEY,
    ed.trim(),
  );
  const problem = (value: string) => {
    try {
      parseConfig(keySchema, { JWT_PUBLIC_KEY: value });
      return 'accepted';
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.message;
    }
  };
  assert.equal(
    problem(rsa),
    'config error: JWT_PUBLIC_KEY must be an Ed25519 PUBLIC KEY PEM (it holds a rsa key)',
  );
  const corrupt = ed.replace(/[A-Za-z]{8}/, 'AAAAAAAA');
  assert.equal(
    problem(corrupt),
    'config error: JWT_PUBLIC_KEY must be an Ed25519 PUBLIC KEY PEM (it does not parse as a key)',
  );
  assert.equal(problem('not a key'), 'config error: JWT_PUBLIC_KEY must be an Ed25519 PUBLIC KEY PEM');
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

test('a PUBLIC KEY setting takes a key set (rotation): every block must be an Ed25519 key', () => {
  const schema = serviceConfig(8081, { JWT_PUBLIC_KEY: pem('PUBLIC KEY', 'ed25519') });
  const ed = () =>
    generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const set = `${ed()}${ed()}`;
  assert.equal(parseConfig(schema, { JWT_PUBLIC_KEY: set }).JWT_PUBLIC_KEY, set.trim());
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
    type: 'spki',
    format: 'pem',
  });
  assert.throws(() => parseConfig(schema, { JWT_PUBLIC_KEY: `${ed()}${rsa}` }), /JWT_PUBLIC_KEY/);
  assert.throws(() => parseConfig(schema, { JWT_PUBLIC_KEY: `${ed()}garbage${ed()}` }), /JWT_PUBLIC_KEY/);
});
