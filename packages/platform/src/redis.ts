import { type RedisOptions as IoRedisOptions, Redis } from 'ioredis';

export interface RedisOptions {
  /** Prefix for every key this client touches (tests use a unique one per suite). */
  keyPrefix?: string;
  timeoutMs?: number;
  /**
   * Redis Sentinel addresses (REDIS_SENTINELS): the client asks them where the primary of
   * `masterName` is, and follows it through a failover. The URL then gives only the password,
   * user name and database number.
   */
  sentinels?: { host: string; port: number }[];
  /** REDIS_MASTER_NAME, the name the Sentinels monitor (default `mdp`). */
  masterName?: string;
}

/** Emitted on a client by createRedis when it reconnects a client that ioredis ended. */
export const RECONNECT_SCHEDULED = 'mdp:reconnect-scheduled';

/** A READONLY error means we still talk to a node that was demoted: reconnect and resend. */
const reconnectOnReadonly = (err: Error) => (err.message.startsWith('READONLY') ? 2 : false);

function sentinelOptions(url: string, opts: RedisOptions): IoRedisOptions {
  const u = new URL(url);
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  const db = Number(u.pathname.replace(/^\//, '') || 0);
  return {
    sentinels: opts.sentinels,
    name: opts.masterName ?? 'mdp',
    role: 'master',
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password,
    db: Number.isInteger(db) ? db : 0,
    // The Sentinels are protected with the same password as the data nodes.
    sentinelPassword: password,
    sentinelCommandTimeout: opts.timeoutMs ?? 2000,
    sentinelRetryStrategy: (times) => Math.min(times * 200, 2000),
    // Subscribes to +switch-master on the Sentinels: reconnects as soon as a failover is
    // announced, instead of when the old primary's connection finally breaks.
    failoverDetector: true,
    reconnectOnError: reconnectOnReadonly,
  };
}

/**
 * An ioredis client whose commands fail fast while Redis is away (no unbounded offline
 * queue), and reconnects by itself when it returns — to the new primary after a Sentinel
 * failover when `sentinels` are given.
 */
export function createRedis(url: string, opts: RedisOptions = {}): Redis {
  const timeout = opts.timeoutMs ?? 2000;
  const common: IoRedisOptions = {
    keyPrefix: opts.keyPrefix,
    connectTimeout: timeout,
    commandTimeout: timeout,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    lazyConnect: true,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  };
  const client = opts.sentinels?.length
    ? new Redis({ ...common, ...sentinelOptions(url, opts) })
    : new Redis(url, common);
  // Errors surface through commands and /readyz; an unhandled 'error' event would crash.
  client.on('error', () => {});
  if (opts.sentinels?.length) keepConnected(client, timeout);
  return client;
}

/**
 * ioredis ends a Sentinel client for good when its connector's connect() rejects, which
 * happens when its own FailoverDetector (on +switch-master) disconnects the connector while a
 * reconnect is asking the Sentinels where the primary is: a race of every unplanned failover
 * (test/redis-sentinel.test.ts reproduces it). A client that nobody closed is connected again
 * after a short pause; one closed by quit() or disconnect() stays closed.
 */
function keepConnected(client: Redis, pauseMs: number): void {
  let closed = false;
  const quit = client.quit.bind(client);
  const disconnect = client.disconnect.bind(client);
  client.quit = ((...args: Parameters<Redis['quit']>) => {
    closed = true;
    return quit(...args);
  }) as Redis['quit'];
  client.disconnect = (reconnect = false) => {
    if (!reconnect) closed = true;
    disconnect(reconnect);
  };
  client.on('end', () => {
    if (closed) return;
    client.emit(RECONNECT_SCHEDULED);
    setTimeout(
      () => {
        if (!closed && client.status === 'end') client.connect().catch(() => {});
      },
      Math.min(pauseMs, 500),
    ).unref();
  });
}

/** A client that starts connecting now (errors surface through commands and /readyz). */
export function connectRedis(url: string, opts: RedisOptions = {}): Redis {
  const client = createRedis(url, opts);
  client.connect().catch(() => {});
  return client;
}

/** The settings of `redisFailoverShape()` as client options. */
export const failoverOptions = (config: {
  REDIS_SENTINELS?: { host: string; port: number }[];
  REDIS_MASTER_NAME: string;
}): Pick<RedisOptions, 'sentinels' | 'masterName'> => ({
  sentinels: config.REDIS_SENTINELS,
  masterName: config.REDIS_MASTER_NAME,
});

export class ReplicationError extends Error {
  constructor(
    readonly wanted: number,
    readonly acked: number,
  ) {
    super(`Redis write reached ${acked} of ${wanted} replicas in time`);
    this.name = 'ReplicationError';
  }
}

/**
 * Blocks until every write this connection sent so far is on `replicas` replicas (Redis WAIT),
 * or throws ReplicationError after `timeoutMs`. Redis replicates asynchronously: a write that
 * only the primary holds is lost when the primary dies before shipping it. A caller that
 * acknowledges a write only after this has a copy that Sentinel can promote.
 */
export async function waitForReplicas(client: Redis, replicas: number, timeoutMs: number): Promise<void> {
  if (replicas <= 0) return;
  const acked = await client.wait(replicas, timeoutMs);
  if (acked < replicas) throw new ReplicationError(replicas, acked);
}

export const redisCheck = (client: Redis) => async () => {
  const pong = await client.ping();
  if (pong !== 'PONG') throw new Error(`unexpected PING answer ${pong}`);
};
