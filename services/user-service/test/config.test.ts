import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateSigningKeys, MAX_ACCESS_TOKEN_TTL_SECONDS } from '@mdp/platform/auth';
import { ConfigError, parseConfig } from '@mdp/platform/config';
import { definition } from '../src/config.js';

test('ACCESS_TOKEN_TTL_SECONDS is bounded: 60 s to MAX_ACCESS_TOKEN_TTL_SECONDS (1 h)', async () => {
  const { privateKey } = await generateSigningKeys();
  const env = (ttl?: string) => ({
    DATABASE_URL: 'postgres://u:p@db:5432/users',
    REDIS_URL: 'redis://cache:6379',
    AMQP_URL: 'amqp://u:p@mq:5672',
    JWT_PRIVATE_KEY: privateKey,
    ...(ttl ? { ACCESS_TOKEN_TTL_SECONDS: ttl } : {}),
  });
  assert.equal(parseConfig(definition.config, env()).ACCESS_TOKEN_TTL_SECONDS, 900);
  assert.equal(
    parseConfig(definition.config, env(String(MAX_ACCESS_TOKEN_TTL_SECONDS))).ACCESS_TOKEN_TTL_SECONDS,
    3600,
  );
  for (const bad of ['86400', '3601', '30'])
    assert.throws(
      () => parseConfig(definition.config, env(bad)),
      (err: unknown) => err instanceof ConfigError && /ACCESS_TOKEN_TTL_SECONDS/.test(err.message),
      bad,
    );
});
