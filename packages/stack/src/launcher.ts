/**
 * Starting the platform from the table of services (./services.ts): the settings each service
 * gets, its databases created, migrated and seeded, its process started, readiness awaited, all
 * stopped. `npm start`, the end-to-end stack, the container stack and the benchmarks use it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { parseConfig } from '@mdp/platform/config';
import { ensureDatabase, migrate } from '@mdp/platform/postgres';
import { GATEWAY, ROOT, type ServiceEntry, serviceUrlSetting } from './services.js';

/** What the launcher hands out: where each service's database, Redis, RabbitMQ and peers are. */
export interface Resources {
  /** URL of the PostgreSQL database the service owns (by its database name). */
  database(name: string): string;
  redisUrl: string;
  amqpUrl: string;
  keys: {
    JWT_PRIVATE_KEY: string;
    JWT_PUBLIC_KEY: string;
    /** order-service's service-token pair (it signs, product-service verifies /internal calls). */
    JWT_SERVICE_PRIVATE_KEY: string;
    JWT_SERVICE_PUBLIC_KEY: string;
  };
  /** Where a service listens, as seen by the others. */
  urlOf(service: string): string;
}

/**
 * Fresh Ed25519 key pairs: access tokens (user-service signs, the others verify) and service
 * tokens (order-service signs, product-service verifies).
 */
export function signingKeys(): Resources['keys'] {
  const pair = () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    return [
      privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    ] as const;
  };
  const [JWT_PRIVATE_KEY, JWT_PUBLIC_KEY] = pair();
  const [JWT_SERVICE_PRIVATE_KEY, JWT_SERVICE_PUBLIC_KEY] = pair();
  return { JWT_PRIVATE_KEY, JWT_PUBLIC_KEY, JWT_SERVICE_PRIVATE_KEY, JWT_SERVICE_PUBLIC_KEY };
}

/**
 * The connection settings of one service, from what it needs. Checked against the service's own
 * schema as production reads it (every connection setting explicit): a setting the launcher cannot
 * provide fails here, naming it (docs/adding-a-service.md says where to teach the launcher).
 */
export function connectionEnv(entry: ServiceEntry, res: Resources): Record<string, string> {
  const env: Record<string, string> = {};
  if (entry.database) env[entry.database.setting] = res.database(entry.database.name);
  if (entry.needs.redis) env.REDIS_URL = res.redisUrl;
  if (entry.needs.rabbitmq) env.AMQP_URL = res.amqpUrl;
  for (const callee of entry.needs.services) env[serviceUrlSetting(callee)] = res.urlOf(callee);
  if (entry.needs.signsTokens) env.JWT_PRIVATE_KEY = res.keys.JWT_PRIVATE_KEY;
  if (entry.needs.verifiesTokens) env.JWT_PUBLIC_KEY = res.keys.JWT_PUBLIC_KEY;
  if (entry.needs.signsServiceTokens) env.JWT_SERVICE_PRIVATE_KEY = res.keys.JWT_SERVICE_PRIVATE_KEY;
  if (entry.needs.verifiesServiceTokens) env.JWT_SERVICE_PUBLIC_KEY = res.keys.JWT_SERVICE_PUBLIC_KEY;
  try {
    parseConfig(entry.definition.config, { ...env, NODE_ENV: 'production' });
  } catch (err) {
    throw new Error(
      `the launcher cannot start ${entry.name}: ${(err as Error).message} (see docs/adding-a-service.md)`,
    );
  }
  return env;
}

function runNode(args: string[], env: Record<string, string>, cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`${path.relative(ROOT, args.at(-1) ?? '')} exited ${code}: ${out}`)),
    );
  });
}

/**
 * Creates each service's database if missing, applies its migrations, and runs its seed (demo data
 * into an empty store). `say` gets one line per thing done.
 */
export async function prepareDatabases(
  entries: ServiceEntry[],
  res: Resources,
  opts: { env?: Record<string, string>; say?: (line: string) => void } = {},
): Promise<void> {
  const say = opts.say ?? (() => {});
  for (const entry of entries) {
    if (entry.database) {
      const url = res.database(entry.database.name);
      if (await ensureDatabase(url)) say(`  created database ${entry.database.name}`);
      if (entry.migrations) {
        const applied = await migrate(url, entry.migrations);
        if (applied.length) say(`  ${entry.name}: applied migrations ${applied.join(', ')}`);
      }
    }
    if (entry.seed) {
      const out = await runNode(
        ['--conditions=mdp-source', '--import', 'tsx', entry.seed],
        { ...opts.env, ...connectionEnv(entry, res) },
        entry.dir,
      );
      for (const line of out.split('\n').filter(Boolean)) say(`  ${line}`);
    }
  }
}

export interface SpawnOptions {
  /** Every setting of the service (connection settings, PORT, shared ones). */
  env: Record<string, string>;
  /** Run the compiled service (dist/, `npm run build` first), as a container does. */
  dist?: boolean;
  /** With the tracing preload (default), as in production. */
  telemetry?: boolean;
  /** Extra node options (e.g. --cpu-prof). */
  nodeArgs?: string[];
}

/** The service as a process (stdout and stderr piped). */
export function spawnService(entry: ServiceEntry, opts: SpawnOptions): ChildProcess {
  const preload = opts.telemetry === false ? [] : ['--import', '@mdp/platform/telemetry'];
  const args = opts.dist
    ? [...(opts.nodeArgs ?? []), ...preload, 'dist/src/server.js']
    : ['--conditions=mdp-source', ...(opts.nodeArgs ?? []), ...preload, '--import', 'tsx', 'src/server.ts'];
  return spawn(process.execPath, args, {
    cwd: entry.dir,
    env: { ...process.env, ...opts.env, OTEL_SERVICE_NAME: entry.name },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export interface LaunchOptions {
  /** The port of each service. */
  ports: Record<string, number>;
  /** Settings every service gets (NODE_ENV, LOG_LEVEL, FLAGS_*, ...). */
  shared: Record<string, string>;
  /** Extra settings per service (tests). */
  env?: Record<string, Record<string, string>>;
  dist?: boolean;
  telemetry?: boolean;
  nodeArgs?: Record<string, string[]>;
  /** Sees each process as it starts (to keep or forward its output, to watch its exit). */
  onSpawn?: (entry: ServiceEntry, child: ChildProcess) => void;
}

/**
 * Starts every service of the table with its settings: the shared ones, its connection settings,
 * its extras, its port. Returns the processes and where they listen (readiness is `waitReady`'s).
 */
export function launch(
  entries: ServiceEntry[],
  res: Resources,
  opts: LaunchOptions,
): { procs: Record<string, ChildProcess>; urls: Record<string, string> } {
  const procs: Record<string, ChildProcess> = {};
  const urls: Record<string, string> = {};
  for (const entry of entries) {
    urls[entry.name] = `http://127.0.0.1:${opts.ports[entry.name]}`;
    const child = spawnService(entry, {
      dist: opts.dist,
      telemetry: opts.telemetry,
      nodeArgs: opts.nodeArgs?.[entry.name],
      env: {
        ...opts.shared,
        ...connectionEnv(entry, res),
        ...(opts.env?.[entry.name] ?? {}),
        HOST: '127.0.0.1',
        PORT: String(opts.ports[entry.name]),
      },
    });
    opts.onSpawn?.(entry, child);
    procs[entry.name] = child;
  }
  return { procs, urls };
}

/** Resolves once every URL's /readyz answers 200; rejects naming those that did not (or whose process is gone). */
export async function waitReady(
  urls: Record<string, string>,
  opts: { timeoutMs: number; exited?: (name: string) => boolean; stopped?: () => boolean },
): Promise<void> {
  const pending = new Set(Object.keys(urls));
  const last: Record<string, string> = {};
  const deadline = Date.now() + opts.timeoutMs;
  while (pending.size && !opts.stopped?.()) {
    await Promise.all(
      [...pending].map(async (name) => {
        if (opts.exited?.(name)) throw new Error(`${name} exited before it was ready`);
        try {
          const res = await fetch(`${urls[name]}/readyz`, { signal: AbortSignal.timeout(1000) });
          if (res.status === 200) pending.delete(name);
          else
            last[name] =
              ((await res.json()) as { error?: { message?: string } }).error?.message ?? String(res.status);
          await res.body?.cancel().catch(() => {});
        } catch (err) {
          last[name] = (err as Error).message;
        }
      }),
    );
    if (!pending.size) return;
    if (Date.now() > deadline)
      throw new Error(
        [...pending].map((n) => `${n} not ready after ${opts.timeoutMs / 1000}s: ${last[n]}`).join('\n'),
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The platform up: databases prepared (created, migrated, seeded), every service started, every
 * /readyz 200. If a service exits or is not ready in time, everything started is stopped and the
 * error names it. `stop()` stops the processes (the caller owns the resources).
 */
export async function startPlatform(
  entries: ServiceEntry[],
  res: Resources,
  opts: LaunchOptions & { say?: (line: string) => void; timeoutMs?: number; stopped?: () => boolean },
): Promise<{ procs: Record<string, ChildProcess>; urls: Record<string, string>; stop(): Promise<void> }> {
  await prepareDatabases(entries, res, { env: opts.shared, ...(opts.say ? { say: opts.say } : {}) });
  opts.say?.('starting services…');
  const { procs, urls } = launch(entries, res, opts);
  const stop = () => stopProcesses(Object.values(procs));
  try {
    await waitReady(urls, {
      timeoutMs: opts.timeoutMs ?? 60_000,
      exited: (name) => procs[name]?.exitCode !== null,
      ...(opts.stopped ? { stopped: opts.stopped } : {}),
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { procs, urls, stop };
}

/** SIGTERM to every process, SIGKILL to those still there after `killAfterMs`; resolves when all exited. */
export async function stopProcesses(procs: ChildProcess[], killAfterMs = 12_000): Promise<void> {
  const running = procs.filter((c) => c.exitCode === null && c.signalCode === null);
  const exits = running.map((c) => new Promise<void>((resolve) => c.once('exit', () => resolve())));
  for (const c of running) c.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const c of running) if (c.exitCode === null) c.kill('SIGKILL');
  }, killAfterMs);
  await Promise.all(exits);
  clearTimeout(timer);
}

export { GATEWAY };
