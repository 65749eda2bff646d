/**
 * Helpers for tests that use this machine's real PostgreSQL, Redis and RabbitMQ.
 * Every suite gets its own database / key prefix / vhost, so suites never collide and
 * can run in parallel; each helper's `drop()` removes what it created.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { type AddressInfo, connect, createServer } from 'node:net';
import { Redis } from 'ioredis';
import { local } from './config.js';
import type { EventEnvelope } from './events.js';
import { dropDatabase, ensureDatabase, withDatabase } from './postgres.js';
import { toolPath } from './tools.js';

export const TEST_PG_URL = process.env.TEST_DATABASE_URL ?? local.postgres('postgres');
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? local.redis;
export const TEST_AMQP_URL = process.env.TEST_AMQP_URL ?? local.amqp;
/** RabbitMQ management API (the rabbitmq_management plugin; scripts/install-tools.sh enables it). */
export const TEST_RABBIT_API = process.env.TEST_RABBIT_API ?? 'http://guest:guest@127.0.0.1:15672';

export const uniqueName = (prefix: string) =>
  `${prefix.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;

export interface TempDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh PostgreSQL database for one suite. */
export async function tempDatabase(prefix = 't'): Promise<TempDatabase> {
  const name = uniqueName(`test_${prefix}`).slice(0, 63);
  const url = withDatabase(TEST_PG_URL, name);
  await ensureDatabase(url);
  return { url, name, drop: () => dropDatabase(url) };
}

/** A key prefix for one suite; `drop` deletes every key under it. */
export function tempRedisPrefix(prefix = 't'): { keyPrefix: string; drop(): Promise<void> } {
  const keyPrefix = `${uniqueName(`test_${prefix}`)}:`;
  return {
    keyPrefix,
    drop: async () => {
      const client = new Redis(TEST_REDIS_URL, {
        lazyConnect: true,
        connectTimeout: 2000,
        commandTimeout: 5000,
      });
      try {
        await client.connect();
        let cursor = '0';
        do {
          const [next, keys] = await client.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 500);
          cursor = next;
          if (keys.length) await client.del(...keys);
        } while (cursor !== '0');
      } finally {
        client.disconnect();
      }
    },
  };
}

/** A URL of the RabbitMQ management API and the headers (basic auth) to call it with. */
export function rabbitApi(path: string): { url: string; headers: Record<string, string> } {
  const base = new URL(TEST_RABBIT_API);
  const auth = Buffer.from(
    `${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`,
  ).toString('base64');
  base.username = '';
  base.password = '';
  return {
    url: new URL(path, base).toString(),
    headers: { authorization: `Basic ${auth}`, 'content-type': 'application/json' },
  };
}

export interface TempVhost {
  url: string;
  vhost: string;
  drop(): Promise<void>;
}

/** A fresh RabbitMQ vhost (with permissions for the test user) for one suite. */
export async function tempVhost(prefix = 't'): Promise<TempVhost> {
  const vhost = uniqueName(`test_${prefix}`);
  const v = encodeURIComponent(vhost);
  const amqpBase = new URL(TEST_AMQP_URL);
  const user = decodeURIComponent(amqpBase.username || 'guest');
  const put = async (path: string, body: unknown) => {
    const { url, headers } = rabbitApi(path);
    const res = await fetch(url, {
      method: 'PUT',
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) throw new Error(`RabbitMQ API PUT ${path}: ${res.status} ${await res.text()}`);
  };
  await put(`/api/vhosts/${v}`, {});
  await put(`/api/permissions/${v}/${encodeURIComponent(user)}`, {
    configure: '.*',
    write: '.*',
    read: '.*',
  });
  amqpBase.pathname = `/${v}`;
  return {
    url: amqpBase.toString(),
    vhost,
    drop: async () => {
      const { url, headers } = rabbitApi(`/api/vhosts/${v}`);
      await fetch(url, { method: 'DELETE', headers, signal: AbortSignal.timeout(5000) });
    },
  };
}

/** Polls `fn` until it returns a truthy value or the time runs out. */
export async function eventually<T>(
  fn: () => Promise<T> | T,
  timeoutMs = 5000,
  intervalMs = 50,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${last}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function tryPort(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(port, '127.0.0.1', () => {
      const { port: got } = srv.address() as AddressInfo;
      srv.close(() => resolve(got));
    });
  });
}

let nextInRange = 0;

/**
 * A TCP port free on 127.0.0.1 right now (for a process that must be told its port up front):
 * one the kernel picks, or with MDP_PORT_RANGE=FROM-TO (a machine shared by several runs, each
 * given its range) the next free one in that range.
 */
export async function freePort(): Promise<number> {
  const range = /^(\d+)-(\d+)$/.exec(process.env.MDP_PORT_RANGE ?? '');
  if (!range) return tryPort(0);
  const [from, to] = [Number(range[1]), Number(range[2])];
  for (let i = 0; i <= to - from; i++) {
    const port = from + ((nextInRange++ + process.pid) % (to - from + 1));
    try {
      return await tryPort(port);
    } catch {
      // taken: the next one
    }
  }
  throw new Error(`no free port in MDP_PORT_RANGE=${process.env.MDP_PORT_RANGE}`);
}

/** An event envelope for the kit's own tests (services build theirs with `@mdp/contracts/events`). */
export function testEvent<T>(type: string, data: T): EventEnvelope<T> {
  return { specversion: '1.0', id: randomUUID(), type, source: 'test', time: new Date().toISOString(), data };
}

export interface FerretDb {
  /** mongodb://127.0.0.1:PORT/ — pick a database name per suite (FerretDB keeps it as a schema). */
  url: string;
  /** The PostgreSQL database behind it (created for this instance, dropped by `stop`). */
  backend: TempDatabase;
  /** What FerretDB printed so far (for failure messages). */
  log(): string;
  /** Stops FerretDB (SIGTERM, then SIGKILL after 10 s) and drops its PostgreSQL database. */
  stop(): Promise<void>;
}

/**
 * FerretDB v1 (a MongoDB wire-protocol server; <repo>/.tools/bin/ferretdb, built by
 * scripts/install-tools.sh) on a port of its own choosing on 127.0.0.1, over a fresh database of
 * this machine's PostgreSQL. Resolves once it logs the address it listens on.
 */
export async function startFerretDb(prefix = 'ferretdb'): Promise<FerretDb> {
  const bin = toolPath('ferretdb');
  const backend = await tempDatabase(prefix);
  let out = '';
  const child = spawn(
    bin,
    ['--listen-addr=127.0.0.1:0', '--log-level=info', `--postgresql-url=${backend.url}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await backend.drop();
  };
  try {
    const addr = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('FerretDB did not listen within 30 s')), 30_000);
      const onData = (chunk: Buffer) => {
        out = (out + chunk.toString()).slice(-64 * 1024);
        const m = /Listening on TCP (127\.0\.0\.1:[0-9]+)/.exec(out);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('error', reject);
      exited.then((code) => reject(new Error(`FerretDB exited with ${code} before listening`)));
    });
    return { url: `mongodb://${addr}/`, backend, log: () => out, stop };
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${out.slice(-3000)}`);
  }
}

/**
 * Sends `request` verbatim over a plain TCP connection to 127.0.0.1:`port` and resolves with the
 * whole raw answer (status line, headers, body) once the server closes: for what an HTTP client
 * would not send, such as an absolute-form request target. The request should say
 * `Connection: close`.
 */
export function rawHttp(port: number, request: string, timeoutMs = 10_000): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let data = '';
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new Error(`no answer from :${port} within ${timeoutMs} ms`)),
    );
    socket.on('data', (chunk) => {
      data += chunk;
    });
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}
