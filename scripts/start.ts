/**
 * `npm start`: the whole platform on this machine.
 * Checks PostgreSQL, Redis and RabbitMQ; creates the databases; runs migrations; loads demo
 * seed data into empty databases; starts every service of services/ (the table in
 * packages/stack/src/services.ts); waits until every /readyz is 200; prints the URLs; stops everything
 * cleanly on Ctrl-C (SIGINT) or SIGTERM.
 *
 * START_MODE=dist runs the compiled services (`npm run build` first), as a container does;
 * the default runs the TypeScript sources under tsx.
 *
 * Observability (skipped with `npm start -- --no-observability`): the engines that are installed
 * (`npm run tools:versions`) start with the files of monitoring/ (packages/monitoring/src/observability.ts):
 * Jaeger v2 (UI and API on 127.0.0.1:16686) and the collector (OTLP/HTTP on :4318; the services
 * export their traces to it), Prometheus with the shop's rules on :9090 (scraping the services
 * with the PodMonitors' labels, postgres_exporter :9187 and redis_exporter :9121), Alertmanager
 * on :9093, whose Slack messages go to SLACK_WEBHOOK_URL or, without it, to .local/logs/slack.log.
 *
 * Environment: PORT_BASE (default 8080: each service at PORT_BASE + its offset from the gateway's
 * 8080, i.e. 8080-8084; 0 = free ports the OS picks), DATABASE_HOST_URL (default
 * postgres://postgres@127.0.0.1:5432), DATABASE_PREFIX (prepended to every database name; for
 * throw-away runs), REDIS_URL, AMQP_URL, LOG_LEVEL, OTEL_EXPORTER_OTLP_ENDPOINT.
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ENGINES,
  type Engine,
  installedEngines,
  type Observability,
  serviceTargets,
  startObservability,
} from '@mdp/monitoring/observability';
import { type SlackReceiver, startSlackReceiver } from '@mdp/monitoring/slack-receiver';
import { local } from '@mdp/platform/config';
import { withDatabase } from '@mdp/platform/postgres';
import { freePort } from '@mdp/platform/testing';
import { GATEWAY, type Resources, signingKeys, startPlatform, stopProcesses } from '@mdp/stack/launcher';
import { loadServices, ROOT } from '@mdp/stack/services';
import amqplib from 'amqplib';
import { Redis } from 'ioredis';
import pg from 'pg';

const say = (line: string) => process.stdout.write(`${line}\n`);
const started = Date.now();

const PORT_BASE = Number(process.env.PORT_BASE ?? 8080);
const PG = (process.env.DATABASE_HOST_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/$/, '');
const DB_PREFIX = process.env.DATABASE_PREFIX ?? '';
const REDIS_URL = process.env.REDIS_URL ?? local.redis;
const AMQP_URL = process.env.AMQP_URL ?? local.amqp;
const pgUrl = (db: string) => withDatabase(`${PG}/postgres`, db);

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

/** Ed25519 key pairs (access and service tokens), generated once per checkout into .local/ (never committed). */
function jwtKeys(): Resources['keys'] {
  const dir = path.join(ROOT, '.local', 'keys');
  const files = {
    JWT_PRIVATE_KEY: path.join(dir, 'jwt-private.pem'),
    JWT_PUBLIC_KEY: path.join(dir, 'jwt-public.pem'),
    JWT_SERVICE_PRIVATE_KEY: path.join(dir, 'jwt-service-private.pem'),
    JWT_SERVICE_PUBLIC_KEY: path.join(dir, 'jwt-service-public.pem'),
  };
  if (!Object.values(files).every((f) => existsSync(f))) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const keys = signingKeys();
    for (const [name, file] of Object.entries(files))
      writeFileSync(file, keys[name as keyof typeof files], {
        mode: name.includes('PRIVATE') ? 0o600 : 0o644,
      });
  }
  return {
    JWT_PRIVATE_KEY: readFileSync(files.JWT_PRIVATE_KEY, 'utf8'),
    JWT_PUBLIC_KEY: readFileSync(files.JWT_PUBLIC_KEY, 'utf8'),
    JWT_SERVICE_PRIVATE_KEY: readFileSync(files.JWT_SERVICE_PRIVATE_KEY, 'utf8'),
    JWT_SERVICE_PUBLIC_KEY: readFileSync(files.JWT_SERVICE_PUBLIC_KEY, 'utf8'),
  };
}

const children = new Map<string, ChildProcess>();
let stopping = false;
let observability: Observability | undefined;
let slack: SlackReceiver | undefined;
let observabilityDir: string | undefined;

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say('stopping…');
    await stopProcesses([...children.values()]);
    await observability?.stop();
    await slack?.close();
    if (observabilityDir && PORT_BASE === 0) rmSync(observabilityDir, { recursive: true, force: true });
    say('stopped');
  }
  process.exit(code);
}

/** The local observability ports (the platform contract's). */
const OBSERVABILITY_PORTS = {
  prometheus: 9090,
  alertmanager: 9093,
  jaegerUi: 16686,
  jaegerGrpc: 16685,
  jaegerOtlpGrpc: 4327,
  otlpHttp: 4318,
  otlpGrpc: 4317,
  spanmetrics: 8889,
  collectorTelemetry: 8888,
  jaegerTelemetry: 8887,
  jaegerHealth: 13133,
  postgresExporter: 9187,
  redisExporter: 9121,
};

async function main(): Promise<void> {
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  // On this kind of machine the datastores are local: start any that is down (idempotent,
  // seconds when all run). Skipped when the addresses point elsewhere or MDP_SKIP_SETUP=1.
  const localStores = !process.env.DATABASE_HOST_URL && !process.env.REDIS_URL && !process.env.AMQP_URL;
  if (localStores && process.env.MDP_SKIP_SETUP !== '1') {
    const setup = spawnSync('bash', [path.join(ROOT, 'scripts/ensure-services.sh')], { stdio: 'inherit' });
    if (setup.status !== 0) say('ensure-services.sh could not start every datastore; checking what runs…');
  }
  say('checking PostgreSQL, Redis and RabbitMQ…');
  await checkDependencies();
  const services = await loadServices();
  const gatewayPort = services.find((s) => s.name === GATEWAY)?.port ?? 8080;
  const ports = new Map<string, number>();
  for (const s of services)
    ports.set(s.name, PORT_BASE === 0 ? await freePort() : PORT_BASE + s.port - gatewayPort);
  const url = (name: string) => `http://127.0.0.1:${ports.get(name)}`;
  const resources: Resources = {
    database: (name) => pgUrl(`${DB_PREFIX}${name}`),
    redisUrl: REDIS_URL,
    amqpUrl: AMQP_URL,
    keys: jwtKeys(),
    urlOf: url,
  };
  const shared: Record<string, string> = {
    NODE_ENV: 'development',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    SHUTDOWN_DRAIN_MS: '0',
    FLAGS_PROVIDER: 'file',
    FLAGS_FILE: path.join(ROOT, 'config', 'flags', 'flags.json'),
  };
  const observe = !process.argv.includes('--no-observability');
  const { installed, missing } = installedEngines();
  const engines: Engine[] = observe ? installed : [];
  const tracing = engines.includes('collector') && engines.includes('jaeger');
  // PORT_BASE=0 (throw-away runs, tests): every port is picked by startObservability as its
  // engine starts (0), and picked again if another process takes it first (CI once saw the
  // collector's OTLP port, picked ahead, taken by another suite). The services start after the
  // collector and get its OTLP address then (`targets` below).
  const obsPorts = { ...OBSERVABILITY_PORTS };
  if (engines.length && PORT_BASE === 0)
    for (const k of Object.keys(obsPorts) as (keyof typeof obsPorts)[]) obsPorts[k] = 0;
  if (tracing && !process.env.OTEL_EXPORTER_OTLP_ENDPOINT)
    shared.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${obsPorts.otlpHttp}`;
  else if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT)
    shared.OTEL_EXPORTER_OTLP_ENDPOINT = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const logDir = path.join(ROOT, '.local', 'logs');
  mkdirSync(logDir, { recursive: true });
  const platform = async () => {
    say('preparing databases (create, migrate, seed)…');
    await startPlatform(services, resources, {
      ports: Object.fromEntries(ports),
      shared,
      dist: process.env.START_MODE === 'dist',
      say,
      stopped: () => stopping,
      onSpawn: (svc, child) => {
        const log = createWriteStream(path.join(logDir, `${svc.name}.log`), { flags: 'a' });
        child.stdout?.pipe(log);
        child.stderr?.pipe(log);
        child.stderr?.on('data', (d) => {
          if (!stopping) process.stderr.write(`[${svc.name}] ${d}`);
        });
        child.on('exit', (code, signal) => {
          children.delete(svc.name);
          if (!stopping) {
            process.stderr.write(
              `${svc.name} exited unexpectedly (${signal ?? code}); see ${path.relative(ROOT, log.path.toString())}\n`,
            );
            void stopAll(1);
          }
        });
        children.set(svc.name, child);
      },
    });
  };
  try {
    if (engines.length) {
      say(`starting observability: ${engines.join(', ')}…`);
      let slackUrl = process.env.SLACK_WEBHOOK_URL;
      if (!slackUrl) {
        const slackLog = createWriteStream(path.join(logDir, 'slack.log'), { flags: 'a' });
        slack = await startSlackReceiver({
          onMessage: (m) => slackLog.write(`${new Date().toISOString()} ${JSON.stringify(m)}\n`),
        });
        slackUrl = slack.url;
      }
      // PORT_BASE=0 (throw-away runs, tests): a temporary data folder.
      observabilityDir =
        PORT_BASE === 0
          ? mkdtempSync(path.join(tmpdir(), 'mdp-start-observability-'))
          : path.join(ROOT, '.local', 'observability');
      observability = await startObservability({
        dir: observabilityDir,
        ports: obsPorts,
        namespace: 'mdp-dev',
        engines,
        scrapeInterval: '15s',
        evaluationInterval: '30s',
        slackUrl,
        postgresUrl: pgUrl('postgres'),
        redisUrl: REDIS_URL,
        // Locally every trace is kept (the cluster keeps errors, slow traces and 10%).
        collector: {
          tailSamplingPercent: 100,
          tailDecisionWait: '5s',
          spanmetricsFlushInterval: '15s',
          batchTimeout: '1s',
        },
        targets: async (otlpHttp) => {
          // Where the collector really listens (its port may have been picked just now).
          if (tracing && !process.env.OTEL_EXPORTER_OTLP_ENDPOINT)
            shared.OTEL_EXPORTER_OTLP_ENDPOINT = otlpHttp;
          await platform();
          return serviceTargets(Object.fromEntries(services.map((s) => [s.name, url(s.name)])));
        },
      });
    } else await platform();
  } catch (err) {
    if (stopping) return;
    process.stderr.write(`${(err as Error).message}\n`);
    await stopAll(1);
  }
  if (stopping) return;
  say('');
  for (const svc of services) say(`  ${svc.name.padEnd(22)} ${url(svc.name)}`);
  say('');
  say(`shop API: ${url(GATEWAY)}/api   logs: .local/logs/   (Ctrl-C stops everything)`);
  if (observability) {
    const o = observability.urls;
    say('');
    if (engines.includes('prometheus'))
      say(`  Prometheus             ${o.prometheus}   (rules: ${o.prometheus}/rules)`);
    if (engines.includes('alertmanager'))
      say(
        `  Alertmanager           ${o.alertmanager}   (Slack: ${slack ? '.local/logs/slack.log' : 'SLACK_WEBHOOK_URL'})`,
      );
    if (engines.includes('jaeger')) say(`  Jaeger                 ${o.jaeger}`);
    if (engines.includes('collector')) say(`  OTLP/HTTP (collector)  ${o.otlpHttp}`);
  }
  if (observe && missing.length)
    say(`not installed (bash scripts/install-tools.sh): ${missing.map((e) => ENGINES[e]).join(', ')}`);
  say(`all ${services.length} services ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((err) => {
  process.stderr.write(`start failed: ${(err as Error).message}\n`);
  void stopAll(1);
});
