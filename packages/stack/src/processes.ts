/**
 * The whole platform as real processes on this machine, isolated: a fresh database per service,
 * a fresh RabbitMQ vhost and Redis key prefix, a fresh Ed25519 key pair, every service on a free
 * port (never 8080-8084), each with the tracing preload. The end-to-end suite and
 * `npm run bench:journey` start it; `stop()` removes everything it created.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import {
  freePort,
  TEST_REDIS_URL,
  type TempDatabase,
  type TempVhost,
  tempDatabase,
  tempRedisPrefix,
  tempVhost,
} from '@mdp/platform/testing';
import { GATEWAY, type Resources, signingKeys, startPlatform, stopProcesses } from './launcher.js';
import { loadServices, ROOT } from './services.js';

export interface StackOptions {
  /** OTLP/HTTP base URL (the suite's own receiver); unset = no export. */
  otlpEndpoint?: string;
  flagsFile?: string;
  logLevel?: string;
  /** Extra environment per service. */
  env?: Record<string, Record<string, string>>;
  /** Run the compiled services (dist/, `npm run build` first), as a container does. */
  dist?: boolean;
  /** Without the tracing preload (to measure its cost); default: with it, as in production. */
  telemetry?: boolean;
  /** Extra node options per service (e.g. --cpu-prof for a profile). */
  nodeArgs?: Record<string, string[]>;
  /** Ports from here on, one per service in table order (a caller's own range); default: free ports. */
  portBase?: number;
  /** How long to wait for every /readyz (default 150 s: tsx compiling five services on a busy 2-core machine). */
  readyTimeoutMs?: number;
}

export interface Stack {
  /** The services, as the table names them. */
  services: string[];
  gateway: string;
  urls: Record<string, string>;
  procs: Record<string, ChildProcess>;
  /** Each service's database, by its database name (users, catalog, orders, notifications). */
  databases: Record<string, TempDatabase>;
  vhost: TempVhost;
  output(name: string): string;
  stop(): Promise<void>;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const services = await loadServices();
  const databases: Record<string, TempDatabase> = {};
  const [vhost] = await Promise.all([
    tempVhost('e2e'),
    ...services.map(async (s) => {
      if (s.database) databases[s.database.name] = await tempDatabase(`e2e_${s.database.name}`);
    }),
  ]);
  const redis = tempRedisPrefix('e2e');
  const ports: Record<string, number> = {};
  for (const [i, s] of services.entries())
    ports[s.name] = opts.portBase ? opts.portBase + i : await freePort();
  const urls = Object.fromEntries(services.map((s) => [s.name, `http://127.0.0.1:${ports[s.name]}`]));
  const resources: Resources = {
    database: (name) => (databases[name] as TempDatabase).url,
    redisUrl: TEST_REDIS_URL,
    amqpUrl: vhost.url,
    keys: signingKeys(),
    urlOf: (name) => urls[name] as string,
  };
  const shared: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: opts.logLevel ?? 'warn',
    SHUTDOWN_DRAIN_MS: '0',
    // Redis keys of this stack only (product-service's cache; the gateway keeps its own prefix).
    REDIS_KEY_PREFIX: redis.keyPrefix,
    FLAGS_PROVIDER: 'file',
    FLAGS_FILE: opts.flagsFile ?? path.join(ROOT, 'config/flags/flags.json'),
    OTEL_BSP_SCHEDULE_DELAY: '200',
    ...(opts.otlpEndpoint ? { OTEL_EXPORTER_OTLP_ENDPOINT: opts.otlpEndpoint } : {}),
  };
  const dropAll = () =>
    Promise.allSettled([...Object.values(databases).map((d) => d.drop()), vhost.drop(), redis.drop()]);
  const outputs: Record<string, string> = {};
  let platform: Awaited<ReturnType<typeof startPlatform>>;
  try {
    platform = await startPlatform(services, resources, {
      env: {
        ...opts.env,
        // Every client of a local stack is 127.0.0.1: the gateway's per-IP limit of /api/auth/*
        // (AUTH_RATE_LIMIT_PER_MINUTE, 30 in production) would refuse the suites' sign-ups.
        'api-gateway': { AUTH_RATE_LIMIT_PER_MINUTE: '1000000', ...opts.env?.['api-gateway'] },
      },
      dist: opts.dist,
      telemetry: opts.telemetry,
      nodeArgs: opts.nodeArgs,
      ports,
      shared,
      timeoutMs: opts.readyTimeoutMs ?? 150_000,
      onSpawn: (entry, child) => {
        outputs[entry.name] = '';
        const keep = (d: Buffer) => {
          outputs[entry.name] = `${outputs[entry.name] ?? ''}${d}`.slice(-30_000);
        };
        child.stdout?.on('data', keep);
        child.stderr?.on('data', keep);
      },
    });
  } catch (err) {
    await dropAll();
    const detail = services.map((s) => `${s.name}: ${outputs[s.name] ?? ''}`).join('\n');
    throw new Error(`${(err as Error).message}\n${detail}`);
  }
  const { procs } = platform;
  const stop = async () => {
    await stopProcesses(Object.values(procs), 10_000);
    await dropAll();
  };
  return {
    services: services.map((s) => s.name),
    gateway: urls[GATEWAY] as string,
    urls,
    procs,
    databases,
    vhost,
    output: (name) => outputs[name] ?? '',
    stop,
  };
}
