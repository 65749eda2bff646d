/**
 * The whole platform as real processes for the end-to-end suite and `npm run bench:journey`:
 * fresh databases (one per service), a fresh RabbitMQ vhost and Redis key prefix, a fresh
 * Ed25519 key pair, the five services on ephemeral ports (never 8080-8084), each started with
 * the tracing preload (`--import @mdp/platform/telemetry`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate } from '@mdp/platform/postgres';
import {
  TEST_REDIS_URL,
  type TempDatabase,
  type TempVhost,
  tempDatabase,
  tempRedisPrefix,
  tempVhost,
} from '@mdp/platform/testing';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SERVICES = [
  'api-gateway',
  'user-service',
  'product-service',
  'order-service',
  'notification-service',
] as const;
export type ServiceName = (typeof SERVICES)[number];

import { freePort } from '@mdp/platform/testing';

export { freePort };

export interface StackOptions {
  /** OTLP/HTTP base URL (the suite's own receiver); unset = no export. */
  otlpEndpoint?: string;
  flagsFile?: string;
  logLevel?: string;
  /** Extra environment per service. */
  env?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Run the compiled services (dist/, `npm run build` first), as a container does. */
  dist?: boolean;
  /** Without the tracing preload (to measure its cost); default: with it, as in production. */
  telemetry?: boolean;
  /** Extra node options per service (e.g. --cpu-prof for a profile). */
  nodeArgs?: Partial<Record<ServiceName, string[]>>;
  /** How long the five services may take to answer /readyz 200 (default 60 s). */
  readyTimeoutMs?: number;
}

export interface Stack {
  gateway: string;
  urls: Record<ServiceName, string>;
  procs: Record<ServiceName, ChildProcess>;
  databases: Record<'users' | 'catalog' | 'orders' | 'notifications', TempDatabase>;
  vhost: TempVhost;
  output(name: ServiceName): string;
  stop(): Promise<void>;
}

function runNode(args: string[], env: Record<string, string>, cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (out += d));
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${args.at(-1)} exited ${code}: ${out}`)),
    );
  });
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const JWT_PRIVATE_KEY = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const JWT_PUBLIC_KEY = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const [users, catalog, orders, notifications, vhost] = await Promise.all([
    tempDatabase('e2e_users'),
    tempDatabase('e2e_catalog'),
    tempDatabase('e2e_orders'),
    tempDatabase('e2e_notifications'),
    tempVhost('e2e'),
  ]);
  const databases = { users, catalog, orders, notifications };
  const redis = tempRedisPrefix('e2e');
  const dbOf: Partial<Record<ServiceName, TempDatabase>> = {
    'user-service': users,
    'product-service': catalog,
    'order-service': orders,
    'notification-service': notifications,
  };
  for (const [name, db] of Object.entries(dbOf)) {
    const dir = path.join(ROOT, 'services', name, 'migrations');
    if (existsSync(dir)) await migrate(db.url, dir);
  }
  await runNode(
    ['--conditions=mdp-source', '--import', 'tsx', path.join(ROOT, 'services/product-service/src/seed.ts')],
    { PRODUCT_DB_URL: catalog.url },
    ROOT,
  );

  const ports = Object.fromEntries(
    await Promise.all(SERVICES.map(async (s) => [s, await freePort()] as const)),
  ) as Record<ServiceName, number>;
  const urls = Object.fromEntries(SERVICES.map((s) => [s, `http://127.0.0.1:${ports[s]}`])) as Record<
    ServiceName,
    string
  >;
  const shared: Record<string, string> = {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    LOG_LEVEL: opts.logLevel ?? 'warn',
    SHUTDOWN_DRAIN_MS: '0',
    REDIS_URL: TEST_REDIS_URL,
    AMQP_URL: vhost.url,
    JWT_PUBLIC_KEY,
    USER_SERVICE_URL: urls['user-service'],
    PRODUCT_SERVICE_URL: urls['product-service'],
    ORDER_SERVICE_URL: urls['order-service'],
    NOTIFICATION_SERVICE_URL: urls['notification-service'],
    FLAGS_PROVIDER: 'file',
    FLAGS_FILE: opts.flagsFile ?? path.join(ROOT, 'config/flags/flags.json'),
    OTEL_BSP_SCHEDULE_DELAY: '200',
    ...(opts.otlpEndpoint ? { OTEL_EXPORTER_OTLP_ENDPOINT: opts.otlpEndpoint } : {}),
  };
  const perService: Record<ServiceName, Record<string, string>> = {
    'api-gateway': {},
    'user-service': { DATABASE_URL: users.url, JWT_PRIVATE_KEY },
    'product-service': { PRODUCT_DB_URL: catalog.url, REDIS_KEY_PREFIX: redis.keyPrefix },
    'order-service': { DATABASE_URL: orders.url },
    'notification-service': { DATABASE_URL: notifications.url },
  };
  const outputs = Object.fromEntries(SERVICES.map((s) => [s, ''])) as Record<ServiceName, string>;
  const procs = {} as Record<ServiceName, ChildProcess>;
  for (const name of SERVICES) {
    const child = spawn(
      process.execPath,
      opts.dist
        ? [
            ...(opts.nodeArgs?.[name] ?? []),
            ...(opts.telemetry === false ? [] : ['--import', '@mdp/platform/telemetry']),
            'dist/src/server.js',
          ]
        : [
            '--conditions=mdp-source',
            ...(opts.nodeArgs?.[name] ?? []),
            ...(opts.telemetry === false ? [] : ['--import', '@mdp/platform/telemetry']),
            '--import',
            'tsx',
            'src/server.ts',
          ],
      {
        cwd: path.join(ROOT, 'services', name),
        env: {
          ...process.env,
          ...shared,
          ...perService[name],
          ...(opts.env?.[name] ?? {}),
          PORT: String(ports[name]),
          OTEL_SERVICE_NAME: name,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const keep = (d: Buffer) => {
      outputs[name] = (outputs[name] + d).slice(-30_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    procs[name] = child;
  }

  const stop = async () => {
    await Promise.all(
      SERVICES.map(async (name) => {
        const c = procs[name];
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise<void>((r) => c.once('exit', () => r()));
        c.kill('SIGTERM');
        const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }),
    );
    await Promise.allSettled([...Object.values(databases).map((d) => d.drop()), vhost.drop(), redis.drop()]);
  };

  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const deadline = Date.now() + readyTimeoutMs;
  const pending = new Set<ServiceName>(SERVICES);
  while (pending.size) {
    for (const name of [...pending]) {
      if (procs[name].exitCode !== null) {
        await stop();
        throw new Error(`${name} exited with ${procs[name].exitCode}:\n${outputs[name]}`);
      }
      try {
        const res = await fetch(`${urls[name]}/readyz`, { signal: AbortSignal.timeout(1000) });
        if (res.status === 200) pending.delete(name);
      } catch {}
    }
    if (!pending.size) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `not ready within ${readyTimeoutMs / 1000} s: ${[...pending].join(', ')}\n${[...pending].map((n) => `${n}: ${outputs[n]}`).join('\n')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    gateway: urls['api-gateway'],
    urls,
    procs,
    databases,
    vhost,
    output: (name) => outputs[name],
    stop,
  };
}
