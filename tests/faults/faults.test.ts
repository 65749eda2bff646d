/**
 * The fault suite (issue 15): under a steady order load through the gateway, one fault at a time
 *   - product-service killed with SIGKILL and started again;
 *   - the message broker killed (a test-owned rabbitmq-server node, never the machine's) and
 *     started again;
 *   - the Redis killed (a test-owned redis-server with its append-only file) and started again;
 *   - every connection of the services to PostgreSQL dropped (pg_terminate_backend);
 *   - a rolling restart of every service: the new process ready before the old one gets SIGTERM
 *     and drains, as a Deployment does (each service behind a Service-like front, ./front.ts of
 *     @mdp/stack, so the old process keeps the connections it has while new ones reach the new).
 * The services run compiled (dist/, built here by `tsc -b`), as in their containers.
 * After each: every acknowledged (201) order has exactly one `order.created` in the outbox, and
 * notification-service consumed that event once (no loss, no duplicate notification); failed
 * requests are counted (none allowed in the rolling restart) and the time to recover printed.
 *
 * Short form in `npm test`; `npm run faults` runs the full form (FAULTS_MODE=full: more shoppers,
 * more orders around each fault). The figures are printed as `# fault:` lines.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '@mdp/platform/testing';
import { ROOT } from '@mdp/stack/services';
import pg from 'pg';
import {
  type AckedOrder,
  failureCauses,
  firstSuccessAfter,
  type Load,
  orderLoad,
  type Shopper,
  signUp,
} from '../drills/lib/load.js';
import { drillDir, type Proc, run, secs, startProc, stopAll, waitFor } from '../drills/lib/procs.js';
import { type RabbitCluster, type RabbitNode, startRabbitCluster } from '../drills/lib/rabbit.js';
import { type Stack, startStack } from '../e2e/stack.js';
import { everyOrderCreatedOnce } from './checks.js';

const FULL = process.env.FAULTS_MODE === 'full';
const P = FULL
  ? { shoppers: 10, concurrency: 8, ordersAround: 150, paceMs: 0 }
  : // Paced: npm test runs it next to other suites on 2 cores; the faults, not the load, are under test.
    { shoppers: 4, concurrency: 3, ordersAround: 12, paceMs: 40 };
/** How long a service drains after SIGTERM (the containers' SHUTDOWN_DRAIN_MS is 3000). */
const DRAIN_MS = '1500';

describe(`fault suite (${FULL ? 'full' : 'short'} form)`, { timeout: FULL ? 1_800_000 : 900_000 }, () => {
  const dir = drillDir('faults');
  const figures: string[] = [];
  const note = (line: string) => {
    figures.push(line);
    process.stdout.write(`# fault: ${line}\n`);
  };
  let rabbit: RabbitCluster;
  let broker: RabbitNode;
  let redisPort: number;
  let redisProc: Proc;
  let stack: Stack;
  let shoppers: Shopper[];
  let productIds: string[];
  let admin: pg.Client;

  const startRedis = () =>
    startProc(
      'redis',
      'redis-server',
      [
        '--port',
        String(redisPort),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        // What the tokens and limits Redis keeps survives a crash (append-only file, fsync per write).
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--dir',
        dir.sub('redis'),
      ],
      { logFile: path.join(dir.dir, 'redis.log') },
    );
  const redisPing = async () =>
    (await run('redis-cli', ['-p', String(redisPort), 'ping'], { timeoutMs: 2000 })).stdout.trim() === 'PONG';

  before(async () => {
    const flags = JSON.parse(readFileSync(path.join(ROOT, 'config/flags/flags.json'), 'utf8'));
    // Every shopper is 127.0.0.1: the relaxed rate limit keeps the limiter out of the figures.
    flags.flags['gateway.rate-limit-per-minute'].defaultVariant = 'relaxed';
    const flagsFile = path.join(dir.dir, 'flags.json');
    writeFileSync(flagsFile, JSON.stringify(flags));
    const t0 = Date.now();
    redisPort = await freePort();
    redisProc = startRedis();
    [rabbit] = await Promise.all([
      startRabbitCluster(dir, { size: 1 }),
      waitFor('the test-owned Redis answers', redisPing, 30_000),
    ]);
    broker = rabbit.nodes[0] as RabbitNode;
    const amqp = { AMQP_URL: `amqp://${rabbit.user}:${rabbit.password}@127.0.0.1:${broker.amqpPort}/` };
    const redis = { REDIS_URL: `redis://127.0.0.1:${redisPort}` };
    const drain = { SHUTDOWN_DRAIN_MS: DRAIN_MS, LOG_LEVEL: process.env.FAULTS_LOG_LEVEL ?? 'warn' };
    note(`test-owned RabbitMQ node and Redis up in ${secs(Date.now() - t0)}`);
    // The compiled services, as a container runs them (a restart takes a second, not a tsx
    // compile): `tsc -b` first, which only checks timestamps when dist/ is current.
    const tsc = await run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-b'], {
      cwd: ROOT,
      timeoutMs: 600_000,
    });
    assert.equal(tsc.code, 0, `tsc -b: ${tsc.stdout}${tsc.stderr}`);
    stack = await startStack({
      flagsFile,
      fronts: true,
      dist: true,
      readyTimeoutMs: 180_000,
      env: {
        'api-gateway': { ...redis, ...drain },
        'user-service': { ...redis, ...amqp, ...drain },
        'product-service': { ...redis, ...amqp, ...drain },
        'order-service': { ...amqp, ...drain },
        'notification-service': { ...amqp, ...drain },
      },
    });
    const catalog = new pg.Client({ connectionString: stack.databases.catalog?.url });
    await catalog.connect();
    // Plenty of stock: a refused order (409) is not what this suite measures.
    productIds = (
      await catalog.query<{ id: string }>(
        "UPDATE products SET doc = jsonb_set(doc, '{stock}', '1000000') RETURNING id",
      )
    ).rows.map((r) => r.id);
    await catalog.end();
    shoppers = [];
    for (let i = 0; i < P.shoppers; i++) shoppers.push(await signUp(stack.gateway));
    admin = new pg.Client({ connectionString: stack.databases.orders?.url.replace(/\/[^/]+$/, '/postgres') });
    await admin.connect();
    note(`stack up behind fronts, ${P.shoppers} shoppers signed up, at ${secs(Date.now() - t0)}`);
  });

  after(async () => {
    for (const name of stack?.services ?? [])
      writeFileSync(path.join(dir.dir, `${name}.log`), stack.output(name));
    process.stdout.write(`# fault figures:\n${figures.map((f) => `#   ${f}`).join('\n')}\n`);
    await admin?.end().catch(() => {});
    await stack?.stop().catch(() => {});
    await stopAll();
    if (!process.env.FAULTS_KEEP) dir.remove();
  });

  /** The order load of one fault, with its own acknowledgements. */
  function startLoad() {
    const acked: AckedOrder[] = [];
    const unresolved: string[] = [];
    const load: Load = orderLoad({
      gateway: stack.gateway,
      shoppers,
      productIds,
      concurrency: P.concurrency,
      acked,
      unresolved,
      paceMs: P.paceMs,
    });
    /** Waits until `n` more orders are acknowledged than now. */
    const more = (n: number, what: string) => {
      const target = acked.length + n;
      return waitFor(`${n} orders acknowledged ${what}`, () => acked.length >= target, 180_000, 50);
    };
    return { acked, unresolved, load, more };
  }

  /** One fault under load: orders before, the fault, orders after recovery, then the checks. */
  async function underLoad(
    name: string,
    inject: () => Promise<{ faultAt: number; backAt: number }>,
  ): Promise<{ failed: number; causes: string; recoveredMs: number; outageMs: number }> {
    const { acked, unresolved, load, more } = startLoad();
    let faultAt = 0;
    let backAt = 0;
    try {
      await more(P.ordersAround, 'before the fault');
      ({ faultAt, backAt } = await inject());
      await more(P.ordersAround, 'after the fault');
    } finally {
      await load.stop();
    }
    const stoppedAt = Date.now();
    const failures = load.outcomes.filter((o) => !o.ok);
    const failed = failures.length;
    const causes = failureCauses(load.outcomes, 0);
    const first = firstSuccessAfter(load.outcomes, faultAt);
    const recoveredMs = failed === 0 ? 0 : (first ?? Number.NaN) - faultAt;
    const outageMs =
      failed === 0 ? 0 : Math.max(...failures.map((o) => o.doneAt)) - Math.min(...failures.map((o) => o.at));
    const drainedMs = await everyOrderCreatedOnce(stack, acked, stoppedAt);
    note(
      `${name}: back ${secs(backAt - faultAt)} after the fault; ${acked.length} orders acknowledged, ` +
        `${load.outcomes.length} requests, ${failed} failed (${causes}), ` +
        `first success ${secs(recoveredMs)} after the fault, failures spanning ${secs(outageMs)}; ` +
        `${acked.length} order.created each once, the last consumed ${secs(drainedMs)} after the load stopped; ` +
        `${unresolved.length} in doubt at the end`,
    );
    // A fault is an outage (503, retryable), never an unexplained 500.
    assert.deepEqual(
      failures.filter((o) => o.why?.startsWith('500')).map((o) => o.why),
      [],
      'no 500 under a fault',
    );
    return { failed, causes, recoveredMs, outageMs };
  }

  test('product-service killed (SIGKILL) and started again: no order lost or duplicated', async () => {
    const r = await underLoad('product-service SIGKILL', async () => {
      const old = stack.procs['product-service'] as ChildProcess;
      const faultAt = Date.now();
      old.kill('SIGKILL');
      await new Promise((resolve) =>
        old.exitCode !== null || old.signalCode ? resolve(null) : old.once('exit', resolve),
      );
      await stack.spawnAnother('product-service');
      return { faultAt, backAt: Date.now() };
    });
    assert.ok(Number.isFinite(r.recoveredMs), 'orders succeed again after the restart');
  });

  test('the message broker killed and started again: orders keep being taken, every event delivered once', async () => {
    const r = await underLoad('RabbitMQ SIGKILL', async () => {
      const faultAt = Date.now();
      broker.proc?.signal('SIGKILL');
      await broker.proc?.exited;
      // Orders are taken while the broker is away (the outbox holds their events).
      rabbit.start(broker);
      await waitFor(
        'the broker booted again',
        async () =>
          (
            await run(
              '/usr/lib/rabbitmq/bin/rabbitmqctl',
              ['-n', broker.node, 'await_startup', '--timeout', '5'],
              {
                env: rabbit.ctlEnv,
                timeoutMs: 30_000,
              },
            )
          ).code === 0,
        180_000,
        500,
      );
      return { faultAt, backAt: Date.now() };
    });
    assert.ok(Number.isFinite(r.recoveredMs));
  });

  test('Redis killed and started again: no order lost or duplicated', async () => {
    const r = await underLoad('Redis SIGKILL', async () => {
      const faultAt = Date.now();
      redisProc.signal('SIGKILL');
      await redisProc.exited;
      redisProc = startRedis();
      await waitFor('the Redis answers again', redisPing, 30_000, 100);
      return { faultAt, backAt: Date.now() };
    });
    assert.ok(Number.isFinite(r.recoveredMs));
  });

  test('every connection to PostgreSQL dropped (pg_terminate_backend): no order lost or duplicated', async () => {
    const names = Object.values(stack.databases).map((d) => d.name);
    let dropped = 0;
    const r = await underLoad('PostgreSQL connections terminated', async () => {
      const faultAt = Date.now();
      const res = await admin.query<{ n: string }>(
        'SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = ANY($1) AND pid <> pg_backend_pid()',
        [names],
      );
      dropped = Number(res.rows[0]?.n);
      return { faultAt, backAt: Date.now() };
    });
    note(`PostgreSQL: ${dropped} connections of the services terminated`);
    assert.ok(dropped > 0, 'the services had connections to drop');
    assert.ok(Number.isFinite(r.recoveredMs));
  });

  test('a rolling restart of every service under load: the new process ready before the old drains; no request fails', async () => {
    const times: string[] = [];
    const r = await underLoad('rolling restart of every service', async () => {
      const faultAt = Date.now();
      for (const name of stack.services) {
        const t = Date.now();
        const old = stack.procs[name] as ChildProcess;
        const exited = new Promise((resolve) => old.once('exit', (code) => resolve(code)));
        await stack.spawnAnother(name);
        old.kill('SIGTERM');
        assert.equal(await exited, 0, `the old ${name} process drained and exited 0`);
        times.push(`${name} ${secs(Date.now() - t)}`);
      }
      return { faultAt, backAt: Date.now() };
    });
    note(`rolling restart, per service (new ready + old drained): ${times.join(', ')}`);
    assert.equal(r.failed, 0, `no request fails during the rolling restart: ${r.causes}`);
  });
});
