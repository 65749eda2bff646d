/**
 * The five service images as a running stack on this machine: podman, hardened (non-root image
 * user, read-only root filesystem without tmpfs, no capabilities, no new privileges), --network host
 * against this machine's PostgreSQL, Redis and RabbitMQ, each service on a free port, every
 * database and the RabbitMQ vhost created for this stack only.
 *
 * Used by tests/containers/images.test.ts; an end-to-end suite can run its journey against
 * `stack.gatewayUrl` the same way (createStack → migrate → start → waitReady → ... → stop → drop).
 * The services and the settings each needs in production mode come from the one launcher
 * (@mdp/stack: the table derived from services/*, `connectionEnv`), not from a list here.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  eventually,
  freePort,
  TEST_REDIS_URL,
  type TempDatabase,
  type TempVhost,
  tempDatabase,
  tempVhost,
} from '@mdp/platform/testing';
import { connectionEnv, GATEWAY, type Resources, signingKeys } from '@mdp/stack/launcher';
import { loadServices } from '@mdp/stack/services';

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
  /** Time from SIGTERM to exit (reported, not asserted). */
  ms: number;
  /** After SIGTERM, /readyz answered 503 while the process still served (the drain). */
  drained: boolean;
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
  const services = await loadServices();
  const vhost: TempVhost = await tempVhost(`${prefix}`);
  const dbs: Record<string, TempDatabase> = {};
  const ports: Record<string, number> = {};
  for (const s of services) {
    ports[s.name] = await freePort();
    if (s.database) dbs[s.database.name] = await tempDatabase(`${prefix}_${s.database.name}`);
  }
  const url = (service: string) => `http://127.0.0.1:${ports[service]}`;
  const resources: Resources = {
    database: (name) => (dbs[name] as TempDatabase).url,
    redisUrl: TEST_REDIS_URL,
    amqpUrl: vhost.url,
    // Access-token keys for this stack only (Ed25519 PEM): user-service signs, the others verify.
    keys: signingKeys(),
    urlOf: url,
  };
  // Every connection setting, as NODE_ENV=production demands (checked against each service's schema).
  const runs: ServiceRun[] = services.map((s) => ({
    service: s.name,
    port: ports[s.name] as number,
    env: {
      ...connectionEnv(s, resources),
      // As the process stacks do (@mdp/stack): every client here is 127.0.0.1, and the gateway's
      // per-IP limit of /api/auth/* counts in the machine's Redis, shared with the suites that run
      // at the same time (CI saw this suite's sign-up refused with 429).
      ...(s.name === 'api-gateway' ? { AUTH_RATE_LIMIT_PER_MINUTE: '1000000' } : {}),
    },
    ...(s.migrations && s.database
      ? { migrate: { [s.database.setting]: resources.database(s.database.name) } }
      : {}),
  }));
  const envArgs = (env: Record<string, string>) =>
    Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);

  return {
    runs,
    gatewayUrl: url(GATEWAY),
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
          const exited = mustRun('podman', ['wait', name], { timeoutMs: 30_000 });
          let done = false;
          void exited.finally(() => {
            done = true;
          });
          // The drain, by its marker: /readyz fails at once while the server still answers.
          let drained = false;
          while (!done && !drained) {
            drained = (await httpStatus(`http://127.0.0.1:${r.port}/readyz`)) === 503;
            if (!drained) await new Promise((resolve) => setTimeout(resolve, 50));
          }
          const code = Number(await exited);
          const ms = Date.now() - t0;
          const logs = await run('podman', ['logs', name]);
          return { service: r.service, code, ms, drained, logs: logs.stdout + logs.stderr };
        }),
      );
    },
    async drop() {
      for (const r of runs) if (r.container) await run('podman', ['rm', '-f', '-t', '0', r.container]);
      for (const d of Object.values(dbs)) await d.drop().catch(() => {});
      await vhost.drop().catch(() => {});
    },
  };
}
