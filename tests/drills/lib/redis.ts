/**
 * A test-owned Redis set as production runs it: three data nodes and three Sentinels, started
 * by the production start scripts (databases/redis-ha/redis-start.sh, sentinel-start.sh) on
 * free loopback ports. Never the machine's Redis on 6379.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { freePort } from '@mdp/platform/testing';
import { Redis } from 'ioredis';
import { type Proc, runOk, startProc, waitFor } from './procs.js';

const SCRIPTS = path.resolve(import.meta.dirname, '../../../databases/redis-ha');
export const MASTER_NAME = 'mdp';

export interface RedisNode {
  name: string;
  port: number;
  dir: string;
  proc?: Proc;
}

export interface RedisSet {
  password: string;
  nodes: RedisNode[];
  sentinels: { name: string; port: number; dir: string; proc?: Proc }[];
  /** REDIS_SENTINELS as the services get it. */
  sentinelList: string;
  /** REDIS_URL as the services get it (only the password counts with sentinels). */
  url: string;
  env(node: RedisNode): Record<string, string>;
  startNode(node: RedisNode): Proc;
  /** host:port of the primary as the Sentinels see it. */
  primary(): Promise<string>;
  /** A plain client on one node (no Sentinel), for checks. */
  client(port: number): Redis;
  cli(port: number, ...args: string[]): Promise<string>;
}

export async function startRedisSet(
  base: { sub(name: string): string },
  opts: { downAfterMs: number },
): Promise<RedisSet> {
  const password = randomBytes(18).toString('hex');
  const nodes: RedisNode[] = [];
  for (let i = 0; i < 3; i++)
    nodes.push({ name: `redis-${i}`, port: await freePort(), dir: base.sub(`redis-${i}`) });
  const sentinels: RedisSet['sentinels'] = [];
  for (let i = 0; i < 3; i++)
    sentinels.push({ name: `sentinel-${i}`, port: await freePort(), dir: base.sub(`sentinel-${i}`) });
  const sentinelAddrs = sentinels.map((s) => `127.0.0.1:${s.port}`);
  const common = {
    REDIS_PASSWORD: password,
    MASTER_NAME,
    SENTINELS: sentinelAddrs.join(' '),
    BOOTSTRAP_PRIMARY: `127.0.0.1:${nodes[0]?.port}`,
    ANNOUNCE_HOST: '127.0.0.1',
  };
  const set: RedisSet = {
    password,
    nodes,
    sentinels,
    sentinelList: sentinelAddrs.join(','),
    url: `redis://:${password}@127.0.0.1:${nodes[0]?.port}`,
    env: (node) => ({
      ...common,
      ANNOUNCE_PORT: String(node.port),
      REDIS_CONF: path.join(SCRIPTS, 'redis.conf'),
      REDIS_RUN_DIR: node.dir,
    }),
    startNode(node) {
      node.proc = startProc(
        node.name,
        path.join(SCRIPTS, 'redis-start.sh'),
        ['--port', String(node.port), '--bind', '127.0.0.1', '--dir', node.dir],
        { env: set.env(node), logFile: path.join(node.dir, 'redis.log') },
      );
      return node.proc;
    },
    async primary() {
      for (const s of sentinels) {
        try {
          const out = await set.cli(s.port, 'SENTINEL', 'get-master-addr-by-name', MASTER_NAME);
          const [host, port] = out.trim().split('\n');
          if (host && port) return `${host}:${port}`;
        } catch {}
      }
      throw new Error('no Sentinel knows the primary');
    },
    client: (port) =>
      new Redis({
        host: '127.0.0.1',
        port,
        password,
        lazyConnect: true,
        connectTimeout: 2000,
        commandTimeout: 5000,
      }),
    cli: (port, ...args) =>
      runOk('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--raw', ...args], {
        env: { REDISCLI_AUTH: password },
        timeoutMs: 10_000,
      }),
  };

  // The bootstrap primary first, then the replicas (they ask the Sentinels, which do not run
  // yet, and fall back to the bootstrap primary), then the Sentinels.
  for (const node of nodes) {
    set.startNode(node);
    await waitFor(
      `${node.name} answers`,
      async () => (await set.cli(node.port, 'PING')).trim() === 'PONG',
      30_000,
    );
  }
  for (const s of sentinels) {
    s.proc = startProc(s.name, path.join(SCRIPTS, 'sentinel-start.sh'), [], {
      env: {
        ...common,
        ANNOUNCE_PORT: String(s.port),
        SENTINEL_PORT: String(s.port),
        SENTINEL_DIR: s.dir,
        DOWN_AFTER_MS: String(opts.downAfterMs),
        FAILOVER_TIMEOUT_MS: '10000',
      },
      logFile: path.join(s.dir, 'sentinel.log'),
    });
  }
  // Ready when every Sentinel sees the two replicas and the two other Sentinels.
  await waitFor(
    'Sentinels see the whole set',
    async () => {
      for (const s of sentinels) {
        const info = await set.cli(s.port, 'SENTINEL', 'master', MASTER_NAME);
        const f = fields(info);
        if (Number(f['num-slaves']) !== 2 || Number(f['num-other-sentinels']) !== 2) return false;
      }
      return true;
    },
    60_000,
    250,
  );
  return set;
}

/** SENTINEL master's alternating name/value lines as an object. */
export function fields(raw: string): Record<string, string> {
  const lines = raw.trim().split('\n');
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < lines.length; i += 2) out[lines[i] as string] = lines[i + 1] as string;
  return out;
}
