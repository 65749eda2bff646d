import { startOutbox } from '@mdp/platform/outbox';
import { failoverOptions } from '@mdp/platform/redis';
import { runService } from '@mdp/platform/service';
import { connectPostgres } from './adapters/postgres.js';
import { connectRabbitMq } from './adapters/rabbitmq.js';
import { connectRedis } from './adapters/redis.js';
import { buildApp } from './app.js';
import { definition } from './config.js';

await runService(definition, async (kit) => {
  const { config, lifecycle } = kit;
  const db = connectPostgres(config.DATABASE_URL);
  const redis = connectRedis(config.REDIS_URL, failoverOptions(config));
  const amqp = connectRabbitMq(config.AMQP_URL);
  startOutbox({ ...kit, pool: db, amqp });
  lifecycle.on('pools', 'rabbitmq', () => amqp.close());
  lifecycle.on('pools', 'redis', () => redis.quit());
  lifecycle.on('pools', 'postgres', () => db.end());
  return buildApp({
    ...kit,
    db,
    redis,
    jwtPrivateKey: config.JWT_PRIVATE_KEY,
    accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    refreshTokens: {
      ttlSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
      familyTtlSeconds: config.REFRESH_FAMILY_TTL_SECONDS,
      minReplicaAcks: config.REDIS_MIN_REPLICA_ACKS,
    },
    loginThrottle: {
      maxFailuresPerAccount: config.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      maxFailuresPerIp: config.LOGIN_MAX_FAILURES_PER_IP,
      windowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS,
      blockSeconds: config.LOGIN_BLOCK_SECONDS,
    },
    bodyLimit: config.BODY_LIMIT_BYTES,
    trustProxy: config.TRUST_PROXY,
  });
});
