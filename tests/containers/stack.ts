/**
 * The five service images as a running stack on this machine: podman, hardened (non-root image
 * user, read-only root filesystem without tmpfs, no capabilities, no new privileges), --network host
 * against this machine's PostgreSQL, Redis and RabbitMQ, each service on a free port, every
 * database and the RabbitMQ vhost created for this stack only.
 *
 * Used by tests/containers/images.test.ts; an end-to-end suite can run its journey against
 * `stack.gatewayUrl` the same way (startStack → migrate → start → waitReady → ... → stop → drop).
 * The connection settings each service needs in production mode live HERE, in `serviceEnv`: when a
 * service gains a required setting, add it here once.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  eventually,
  TEST_REDIS_URL,
  type TempDatabase,
  type TempVhost,
  tempDatabase,
  tempVhost,
} from '@mdp/platform/testing';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The same variables scripts/lib/containers-env.sh exports, for direct podman/skopeo calls. */
export const containerEnv: NodeJS.ProcessEnv = {
  CONTAINERS_CONF: path.join(ROOT, 'containers/containers.conf'),
  CONTAINERS_STORAGE_CONF: path.join(ROOT, 'containers/storage.conf'),
  CONTAINERS_REGISTRIES_CONF: path.join(ROOT, 'containers/registries.conf'),
  BUILDAH_ISOLATION: 'chroot',
};

/** How every service container runs (the Kubernetes securityContext, as podman flags). */
export const HARDENED = [
  '--network',
  'host',
  '--read-only',
  '--read-only-tmpfs=false',
  '--cap-drop',
  'ALL',
  '--security-opt',
  'no-new-privileges',
  '--pids-limit',
  '256',
];

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

type RunOpts = { env?: NodeJS.ProcessEnv; timeoutMs?: number };

/** Runs a command with the project's container configuration; never throws on a non-zero exit. */
export function run(cmd: string, args: string[], opts: RunOpts = {}) {
  return new Promise<RunResult>((resolve) => {
    execFile(
      cmd,
      args,
      {
        cwd: ROOT,
        env: { ...process.env, ...containerEnv, ...opts.env },
        maxBuffer: 64 * 1024 * 1024,
        timeout: opts.timeoutMs ?? 120_000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** Like `run`, but a non-zero exit throws with the command's output. */
export async function mustRun(cmd: string, args: string[], opts: RunOpts = {}) {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} exited ${r.code}\n${r.stderr.slice(-4000)}${r.stdout.slice(-2000)}`,
    );
  }
  return r.stdout.trim();
}

import { freePort } from '@mdp/platform/testing';

export { freePort };

export async function httpStatus(url: string): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

export interface ServiceRun {
  service: string;
  port: number;
  /** Settings of the running service (PORT is added at start). */
  env: Record<string, string>;
  /** Settings of `dist/src/migrate.js`, for the PostgreSQL services. */
  migrate?: Record<string, string>;
  container?: string;
}

export interface StopResult {
  service: string;
  code: number;
  ms: number;
  logs: string;
}

export interface Stack {
  runs: ServiceRun[];
  gatewayUrl: string;
  /** Applies the migrations, from the images. */
  migrate(imageOf: (service: string) => string): Promise<void>;
  /** Starts every container (detached). */
  start(imageOf: (service: string) => string, extraEnv?: Record<string, string>): Promise<void>;
  /** Waits until every /readyz answers 200; throws with the container's log otherwise. */
  waitReady(timeoutMs?: number): Promise<void>;
  /** SIGTERM to every container at once; exit codes, times and logs. */
  stop(): Promise<StopResult[]>;
  /** Removes the containers, drops the databases and the vhost. */
  drop(): Promise<void>;
}

/** Databases, vhost, ports and the production-mode settings of every service. */
export async function createStack(prefix = 'stack'): Promise<Stack> {
  const runId = randomBytes(3).toString('hex');
  const dbs: TempDatabase[] = [];
  const vhost: TempVhost = await tempVhost(`${prefix}`);
  const db = async (name: string) => {
    const d = await tempDatabase(`${prefix}_${name}`);
    dbs.push(d);
    return d.url;
  };
  const [gw, users, products, orders, notifications] = await Promise.all(
    [0, 1, 2, 3, 4].map(() => freePort()),
  );
  const url = (port: number | undefined) => `http://127.0.0.1:${port}`;
  const usersDb = await db('users');
  const catalogDb = await db('catalog');
  const ordersDb = await db('orders');
  const notificationsDb = await db('notif');
  const amqp = vhost.url;
  // Access-token keys for this stack only (Ed25519 PEM): user-service signs, the others verify.
  const keys = generateKeyPairSync('ed25519');
  const JWT_PRIVATE_KEY = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const JWT_PUBLIC_KEY = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();

  // Every connection setting, as NODE_ENV=production demands (services/*/src/config.ts).
  const runs: ServiceRun[] = [
    {
      service: 'user-service',
      port: users as number,
      env: { DATABASE_URL: usersDb, REDIS_URL: TEST_REDIS_URL, AMQP_URL: amqp, JWT_PRIVATE_KEY },
      migrate: { DATABASE_URL: usersDb },
    },
    {
      service: 'product-service',
      port: products as number,
      env: { PRODUCT_DB_URL: catalogDb, REDIS_URL: TEST_REDIS_URL, AMQP_URL: amqp, JWT_PUBLIC_KEY },
      migrate: { PRODUCT_DB_URL: catalogDb },
    },
    {
      service: 'order-service',
      port: orders as number,
      env: { DATABASE_URL: ordersDb, AMQP_URL: amqp, PRODUCT_SERVICE_URL: url(products), JWT_PUBLIC_KEY },
      migrate: { DATABASE_URL: ordersDb },
    },
    {
      service: 'notification-service',
      port: notifications as number,
      env: { DATABASE_URL: notificationsDb, AMQP_URL: amqp, JWT_PUBLIC_KEY },
      migrate: { DATABASE_URL: notificationsDb },
    },
    {
      service: 'api-gateway',
      port: gw as number,
      env: {
        REDIS_URL: TEST_REDIS_URL,
        USER_SERVICE_URL: url(users),
        PRODUCT_SERVICE_URL: url(products),
        ORDER_SERVICE_URL: url(orders),
        NOTIFICATION_SERVICE_URL: url(notifications),
        JWT_PUBLIC_KEY,
      },
    },
  ];
  const envArgs = (env: Record<string, string>) =>
    Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);

  return {
    runs,
    gatewayUrl: url(gw),
    async migrate(imageOf) {
      for (const r of runs.filter((x) => x.migrate)) {
        await mustRun('podman', [
          'run',
          '--rm',
          ...HARDENED,
          ...envArgs(r.migrate ?? {}),
          imageOf(r.service),
          'dist/src/migrate.js',
        ]);
      }
    },
    async start(imageOf, extraEnv = {}) {
      for (const r of runs) {
        const name = `mdp-${prefix}-${r.service}-${runId}`;
        const env = envArgs({ ...r.env, ...extraEnv, PORT: String(r.port) });
        await mustRun('podman', ['run', '-d', '--name', name, ...HARDENED, ...env, imageOf(r.service)]);
        r.container = name;
      }
    },
    async waitReady(timeoutMs = 60_000) {
      for (const r of runs) {
        await eventually(
          async () => (await httpStatus(`http://127.0.0.1:${r.port}/readyz`)) === 200,
          timeoutMs,
          250,
        ).catch(async () => {
          const logs = await run('podman', ['logs', '--tail', '30', r.container as string]);
          throw new Error(`${r.service} never answered /readyz 200:\n${logs.stdout}${logs.stderr}`);
        });
      }
    },
    async stop() {
      return Promise.all(
        runs.map(async (r) => {
          const name = r.container as string;
          const t0 = Date.now();
          await mustRun('podman', ['kill', '--signal', 'TERM', name]);
          const code = Number(await mustRun('podman', ['wait', name], { timeoutMs: 30_000 }));
          const ms = Date.now() - t0;
          const logs = await run('podman', ['logs', name]);
          return { service: r.service, code, ms, logs: logs.stdout + logs.stderr };
        }),
      );
    },
    async drop() {
      for (const r of runs) if (r.container) await run('podman', ['rm', '-f', '-t', '0', r.container]);
      for (const d of dbs) await d.drop().catch(() => {});
      await vhost.drop().catch(() => {});
    },
  };
}
