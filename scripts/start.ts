/**
 * `npm start`: the whole platform on this machine.
 * Checks PostgreSQL, Redis and RabbitMQ; creates the databases; runs migrations; loads demo
 * seed data into empty databases; starts the five services; waits until every /readyz is 200;
 * prints the URLs; stops everything cleanly on Ctrl-C (SIGINT) or SIGTERM.
 *
 * START_MODE=dist runs the compiled services (`npm run build` first), as a container does;
 * the default runs the TypeScript sources under tsx.
 *
 * Environment: PORT_BASE (default 8080; services get PORT_BASE..PORT_BASE+4), DATABASE_HOST_URL
 * (default postgres://postgres@127.0.0.1:5432), REDIS_URL, AMQP_URL, LOG_LEVEL, OTEL_EXPORTER_OTLP_ENDPOINT.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDatabase, migrate, withDatabase } from '@mdp/platform/postgres';
import amqplib from 'amqplib';
import { Redis } from 'ioredis';
import pg from 'pg';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const say = (line: string) => process.stdout.write(`${line}\n`);
const started = Date.now();

const PORT_BASE = Number(process.env.PORT_BASE ?? 8080);
const PG = (process.env.DATABASE_HOST_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/$/, '');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const pgUrl = (db: string) => withDatabase(`${PG}/postgres`, db);

interface Svc {
  name: string;
  port: number;
  /** The PostgreSQL database it owns, and the env var naming it. */
  db?: { name: string; env: 'DATABASE_URL' | 'PRODUCT_DB_URL' };
}

const services: Svc[] = [
  { name: 'api-gateway', port: PORT_BASE },
  { name: 'user-service', port: PORT_BASE + 1, db: { name: 'users', env: 'DATABASE_URL' } },
  { name: 'product-service', port: PORT_BASE + 2, db: { name: 'catalog', env: 'PRODUCT_DB_URL' } },
  { name: 'order-service', port: PORT_BASE + 3, db: { name: 'orders', env: 'DATABASE_URL' } },
  { name: 'notification-service', port: PORT_BASE + 4, db: { name: 'notifications', env: 'DATABASE_URL' } },
];
const url = (name: string) => `http://127.0.0.1:${services.find((s) => s.name === name)?.port}`;

const START_HINT = {
  postgres: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
  redis:
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log',
  rabbitmq: 'rabbitmq-server -detached',
};

async function checkDependencies(): Promise<void> {
  const problems: string[] = [];
  const client = new pg.Client({ connectionString: pgUrl('postgres'), connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    problems.push(
      `PostgreSQL is not reachable at ${PG} (${(err as Error).message}); start it with: ${START_HINT.postgres}`,
    );
  } finally {
    await client.end().catch(() => {});
  }
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    problems.push(
      `Redis is not reachable at ${REDIS_URL} (${(err as Error).message}); start it with: ${START_HINT.redis}`,
    );
  } finally {
    redis.disconnect();
  }
  try {
    const conn = await amqplib.connect(AMQP_URL, { timeout: 3000 });
    await conn.close();
  } catch (err) {
    const where = AMQP_URL.replace(/\/\/[^@]*@/, '//');
    problems.push(
      `RabbitMQ is not reachable at ${where} (${(err as Error).message}); start it with: ${START_HINT.rabbitmq}`,
    );
  }
  if (problems.length) {
    for (const p of problems) process.stderr.write(`${p}\n`);
    process.exit(1);
  }
}

/** Ed25519 key pair for access tokens, generated once per checkout into .local/ (never committed). */
function jwtKeys(): { JWT_PRIVATE_KEY: string; JWT_PUBLIC_KEY: string } {
  const dir = path.join(root, '.local', 'keys');
  const priv = path.join(dir, 'jwt-private.pem');
  const pub = path.join(dir, 'jwt-public.pem');
  if (!existsSync(priv) || !existsSync(pub)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(priv, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  }
  return { JWT_PRIVATE_KEY: readFileSync(priv, 'utf8'), JWT_PUBLIC_KEY: readFileSync(pub, 'utf8') };
}

function envFor(svc: Svc, shared: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {
    ...shared,
    PORT: String(svc.port),
    HOST: '127.0.0.1',
    OTEL_SERVICE_NAME: svc.name,
    REDIS_URL,
    AMQP_URL,
    USER_SERVICE_URL: url('user-service'),
    PRODUCT_SERVICE_URL: url('product-service'),
    ORDER_SERVICE_URL: url('order-service'),
    NOTIFICATION_SERVICE_URL: url('notification-service'),
  };
  if (svc.db) env[svc.db.env] = pgUrl(svc.db.name);
  return env;
}

function run(cmd: string, args: string[], opts: { cwd: string; env: Record<string, string> }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${args.at(-1)} exited with ${code}`)),
    );
    child.on('error', reject);
  });
}

async function prepareDatabases(shared: Record<string, string>): Promise<void> {
  for (const svc of services) {
    if (!svc.db) continue;
    const dbUrl = pgUrl(svc.db.name);
    if (await ensureDatabase(dbUrl)) say(`  created database ${svc.db.name}`);
    const dir = path.join(root, 'services', svc.name, 'migrations');
    if (existsSync(dir)) {
      const applied = await migrate(dbUrl, dir);
      if (applied.length) say(`  ${svc.name}: applied migrations ${applied.join(', ')}`);
    }
    // Demo data: a service's own idempotent seed script, if it has one.
    const seed = path.join(root, 'services', svc.name, 'src', 'seed.ts');
    if (existsSync(seed)) {
      await run(process.execPath, ['--conditions=mdp-source', '--import', 'tsx', seed], {
        cwd: path.dirname(path.dirname(seed)),
        env: { ...process.env, ...envFor(svc, shared) } as Record<string, string>,
      });
    }
  }
}

const children = new Map<string, ChildProcess>();
let stopping = false;

function startService(svc: Svc, shared: Record<string, string>, logDir: string): void {
  const log = createWriteStream(path.join(logDir, `${svc.name}.log`), { flags: 'a' });
  const args =
    process.env.START_MODE === 'dist'
      ? ['--import', '@mdp/platform/telemetry', 'dist/src/server.js']
      : [
          '--conditions=mdp-source',
          '--import',
          '@mdp/platform/telemetry',
          '--import',
          'tsx',
          'src/server.ts',
        ];
  const child = spawn(process.execPath, args, {
    cwd: path.join(root, 'services', svc.name),
    env: { ...process.env, ...envFor(svc, shared) } as Record<string, string>,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  child.stderr?.on('data', (d) => {
    if (!stopping) process.stderr.write(`[${svc.name}] ${d}`);
  });
  child.on('exit', (code, signal) => {
    children.delete(svc.name);
    if (!stopping) {
      process.stderr.write(
        `${svc.name} exited unexpectedly (${signal ?? code}); see ${path.relative(root, log.path.toString())}\n`,
      );
      void stopAll(1);
    }
  });
  children.set(svc.name, child);
}

async function waitReady(timeoutMs: number): Promise<void> {
  const pending = new Set(services.map((s) => s.name));
  const deadline = Date.now() + timeoutMs;
  const last: Record<string, string> = {};
  while (pending.size && Date.now() < deadline && !stopping) {
    await Promise.all(
      [...pending].map(async (name) => {
        try {
          const res = await fetch(`${url(name)}/readyz`, { signal: AbortSignal.timeout(1000) });
          if (res.status === 200) pending.delete(name);
          else
            last[name] =
              ((await res.json()) as { error?: { message?: string } }).error?.message ?? String(res.status);
        } catch (err) {
          last[name] = (err as Error).message;
        }
      }),
    );
    if (pending.size) await new Promise((r) => setTimeout(r, 200));
  }
  if (pending.size && !stopping) {
    for (const name of pending)
      process.stderr.write(`${name} not ready after ${timeoutMs / 1000}s: ${last[name]}\n`);
    await stopAll(1);
  }
}

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say('stopping…');
    const exits = [...children.values()].map(
      (c) =>
        new Promise<void>((resolve) => (c.exitCode !== null ? resolve() : c.on('exit', () => resolve()))),
    );
    for (const c of children.values()) c.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const c of children.values()) c.kill('SIGKILL');
    }, 12_000);
    await Promise.all(exits);
    clearTimeout(timer);
    say('stopped');
  }
  process.exit(code);
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  say('checking PostgreSQL, Redis and RabbitMQ…');
  await checkDependencies();
  const shared: Record<string, string> = {
    NODE_ENV: 'development',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    SHUTDOWN_DRAIN_MS: '0',
    FLAGS_PROVIDER: 'file',
    FLAGS_FILE: path.join(root, 'config', 'flags', 'flags.json'),
    ...jwtKeys(),
  };
  say('preparing databases (create, migrate, seed)…');
  await prepareDatabases(shared);
  const logDir = path.join(root, '.local', 'logs');
  mkdirSync(logDir, { recursive: true });
  say('starting services…');
  for (const svc of services) startService(svc, shared, logDir);
  await waitReady(60_000);
  say('');
  for (const svc of services) say(`  ${svc.name.padEnd(22)} ${url(svc.name)}`);
  say('');
  say(`shop API: ${url('api-gateway')}/api   logs: .local/logs/   (Ctrl-C stops everything)`);
  say(`all five services ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((err) => {
  process.stderr.write(`start failed: ${(err as Error).message}\n`);
  void stopAll(1);
});
