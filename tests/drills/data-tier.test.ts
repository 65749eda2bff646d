/**
 * Data-tier drills on this machine, with the real services under a real client load:
 *   - PostgreSQL: primary + 2 standbys with quorum commit (ANY 1) behind a primary-following
 *     endpoint (HAProxy, playing CloudNativePG's `-rw` Service); the primary is killed, the most
 *     advanced standby promoted; every acknowledged order must be there. The old primary is
 *     rewound into a standby. Then a point-in-time restore from pgBackRest into a fresh cluster.
 *   - Redis: 3 data nodes + 3 Sentinels started by the production scripts; the primary is
 *     killed under refresh-token load; clients follow the failover; no handed-out token lost.
 *   - RabbitMQ: 3 test-owned nodes, quorum queues; the node leading the service queue is killed
 *     under order load; every confirmed event is consumed, duplicates only up to idempotency.
 *   - Credentials rotated on every store.
 * Each runbook step of docs/operations/ is executed. Every datastore here is test-owned (own
 * ports, dirs, users); the machine's PostgreSQL, Redis and RabbitMQ only keep the catalog, its
 * cache and the stack's scratch databases, as in the end-to-end suite.
 *
 * Short form in `npm test`; `npm run drills` runs the full form (DRILL_MODE=full: more shoppers,
 * longer load around each failure). Figures are printed as test diagnostics.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { migrate } from '@mdp/platform/postgres';
import { ROOT } from '@mdp/stack/services';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type Stack, type StackOptions, startStack } from '../e2e/stack.js';
import { type Endpoints, startProxy } from './lib/haproxy.js';
import {
  type AckedOrder,
  failureCauses,
  firstSuccessAfter,
  type Outcome,
  orderLoad,
  refreshLoad,
  type Shopper,
  signUp,
} from './lib/load.js';
import { adoptPostmaster, initPrimary, type PgNode, type PgSet, pgSet, streaming } from './lib/pg.js';
import { drillDir, run, secs, sleep, stopAll, waitFor } from './lib/procs.js';
import { type RabbitCluster, type RabbitNode, startRabbitCluster } from './lib/rabbit.js';
import { fields, MASTER_NAME, type RedisNode, type RedisSet, startRedisSet } from './lib/redis.js';
import { runStep, stepsNotRun } from './lib/runbook.js';

const FULL = process.env.DRILL_MODE === 'full';
const P = FULL
  ? { shoppers: 12, concurrency: 8, beforeMs: 8000, afterMs: 15_000, sentinelDownMs: 2000 }
  : { shoppers: 4, concurrency: 3, beforeMs: 2000, afterMs: 3000, sentinelDownMs: 2000 };
const ROLES = {
  user_service: 'users',
  order_service: 'orders',
  notification_service: 'notifications',
  product_service: 'catalog',
} as const;

describe(`data-tier drills (${FULL ? 'full' : 'short'} form)`, {
  timeout: FULL ? 1_800_000 : 900_000,
}, () => {
  const dir = drillDir('data');
  const figures: string[] = [];
  const note = (line: string) => {
    figures.push(line);
    process.stdout.write(`# drill: ${line}\n`);
  };
  const passwords = Object.fromEntries(
    Object.keys(ROLES).map((r) => [r, randomBytes(18).toString('hex')]),
  ) as Record<keyof typeof ROLES, string>;
  let pgs: PgSet;
  let pgNodes: PgNode[];
  let primary: PgNode;
  let redis: RedisSet;
  let rabbit: RabbitCluster;
  let proxy: Endpoints;
  let stack: Stack;
  let shoppers: Shopper[];
  let productIds: string[];
  const acked: AckedOrder[] = [];
  const unresolved: string[] = [];
  let backupTarget: { time: string; at: number } | undefined;
  const rwUrl = (role: keyof typeof ROLES, pw = passwords[role]) =>
    `postgres://${role}:${pw}@127.0.0.1:${proxy.pgPort}/${ROLES[role]}`;
  const amqpUrl = () => `amqp://${rabbit.user}:${rabbit.password}@127.0.0.1:${proxy.amqpPort}/`;

  async function startPostgres() {
    pgs = await pgSet(dir);
    pgNodes = [await pgs.newNode('pg1'), await pgs.newNode('pg2'), await pgs.newNode('pg3')];
    primary = pgNodes[0] as PgNode;
    await initPrimary(pgs, primary);
    // The production init script (roles, databases, passwords from the environment).
    await run('bash', [path.join(ROOT, 'databases/postgresql/00-init.sh')], {
      env: {
        PGHOST: primary.home,
        PGPORT: String(primary.port),
        POSTGRES_USER: 'postgres',
        MDP_SQL_DIR: path.join(ROOT, 'databases/postgresql'),
        USER_SERVICE_DB_PASSWORD: passwords.user_service,
        PRODUCT_SERVICE_DB_PASSWORD: passwords.product_service,
        ORDER_SERVICE_DB_PASSWORD: passwords.order_service,
        NOTIFICATION_SERVICE_DB_PASSWORD: passwords.notification_service,
      },
    }).then((r) => assert.equal(r.code, 0, r.stderr));
    await pgs.query(primary, 'CREATE DATABASE drill');
    await pgs.query(primary, 'CREATE TABLE ticks (seq bigint PRIMARY KEY)', [], 'drill');
    await runStep('postgresql-restore.md', 'backup-stanza', pgs.stepEnv(primary), { user: 'postgres' });
    const backup = await runStep('postgresql-restore.md', 'backup-full', pgs.stepEnv(primary), {
      user: 'postgres',
    });
    note(`PostgreSQL base backup (pgBackRest, full): ${secs(backup.ms)}`);
    for (const node of pgNodes.slice(1)) {
      const env = { ...pgs.stepEnv(node), PRIMARY_PORT: String(primary.port), NODE_NAME: node.name };
      await runStep('postgresql-rebuild-replica.md', 'replica-clone', env, { user: 'postgres' });
      await runStep('postgresql-rebuild-replica.md', 'replica-start', env, { user: 'postgres' });
      adoptPostmaster(node);
      await runStep('postgresql-rebuild-replica.md', 'replica-streaming', env, { user: 'postgres' });
    }
    // Quorum commit: a COMMIT returns once ANY ONE of the two standbys has flushed it
    // (CloudNativePG `synchronous: {method: any, number: 1, dataDurability: required}`).
    await runStep(
      'postgresql-failover.md',
      'pg-sync-standbys',
      { ...pgs.stepEnv(primary), SYNC_STANDBYS: 'pg2, pg3' },
      { user: 'postgres' },
    );
    await waitFor(
      'both standbys in the commit quorum',
      async () => (await streaming(pgs, primary)).filter((s) => s.sync_state === 'quorum').length === 2,
      30_000,
    );
  }

  before(async () => {
    const flags = JSON.parse(readFileSync(path.join(ROOT, 'config/flags/flags.json'), 'utf8'));
    // Many shoppers share 127.0.0.1: the relaxed rate limit keeps the limiter out of the figures.
    flags.flags['gateway.rate-limit-per-minute'].defaultVariant = 'relaxed';
    const flagsFile = path.join(dir.dir, 'flags.json');
    writeFileSync(flagsFile, JSON.stringify(flags));

    const t0 = Date.now();
    [, redis, rabbit] = await Promise.all([
      startPostgres(),
      startRedisSet(dir, { downAfterMs: P.sentinelDownMs }),
      startRabbitCluster(dir),
    ]);
    proxy = await startProxy(dir.dir, {
      pg: pgNodes.map((n) => ({ name: n.name, port: n.port })),
      amqp: rabbit.nodes.map((n) => ({ name: n.name, port: n.amqpPort })),
    });
    await waitFor(
      'pg-rw leads to the primary',
      async () => {
        const c = new pg.Client({ connectionString: rwUrl('order_service'), connectionTimeoutMillis: 2000 });
        await c.connect();
        await c.end();
        return true;
      },
      30_000,
    );
    for (const [role, name] of [
      ['user_service', 'user-service'],
      ['order_service', 'order-service'],
      ['notification_service', 'notification-service'],
    ] as const)
      await migrate(rwUrl(role), path.join(ROOT, 'services', name, 'migrations'));
    note(
      `test-owned stores up in ${secs(Date.now() - t0)} (PostgreSQL 3, Redis 3 + 3 Sentinels, RabbitMQ 3, HAProxy)`,
    );

    const redisEnv = {
      REDIS_URL: redis.url,
      REDIS_SENTINELS: redis.sentinelList,
      REDIS_MASTER_NAME: MASTER_NAME,
    };
    const stackOptions: StackOptions = {
      flagsFile,
      // Five services compiled by tsx at once next to nine datastore processes, on a shared
      // 2-core machine: more time than the end-to-end suite's default.
      readyTimeoutMs: 180_000,
      env: {
        'api-gateway': { ...redisEnv },
        'user-service': {
          ...redisEnv,
          REDIS_MIN_REPLICA_ACKS: '1',
          DATABASE_URL: rwUrl('user_service'),
          AMQP_URL: amqpUrl(),
        },
        'product-service': { AMQP_URL: amqpUrl() },
        'order-service': { DATABASE_URL: rwUrl('order_service'), AMQP_URL: amqpUrl() },
        'notification-service': { DATABASE_URL: rwUrl('notification_service'), AMQP_URL: amqpUrl() },
      },
    };
    stack = await startStack(stackOptions).catch((err: Error) => {
      throw new Error(`${err.message}\nHAProxy's servers so far:\n${proxy.stateChanges()}`, { cause: err });
    });
    // Plenty of stock: a refused order (409) is not what these drills measure.
    const catalog = stack.databases.catalog;
    assert.ok(catalog, 'the stack has a catalog database');
    const cat = new pg.Client({ connectionString: catalog.url });
    await cat.connect();
    productIds = (
      await cat.query<{ id: string }>(
        "UPDATE products SET doc = jsonb_set(doc, '{stock}', '1000000') RETURNING id",
      )
    ).rows.map((r) => r.id);
    await cat.end();
    shoppers = [];
    for (let i = 0; i < P.shoppers; i++) shoppers.push(await signUp(stack.gateway));
    note(`stack up and ${P.shoppers} shoppers signed up at ${secs(Date.now() - t0)}`);
  });

  after(async () => {
    // The services' own output, next to the stores' logs (kept with DRILL_KEEP=1).
    for (const name of [
      'api-gateway',
      'user-service',
      'product-service',
      'order-service',
      'notification-service',
    ] as const)
      if (stack) writeFileSync(path.join(dir.dir, `${name}.log`), stack.output(name));
    process.stdout.write(`# drill figures:\n${figures.map((f) => `#   ${f}`).join('\n')}\n`);
    await stack?.stop().catch(() => {});
    await stopAll();
    if (!process.env.DRILL_KEEP) dir.remove();
  });

  /** Orders from P.concurrency shoppers at once; every acknowledgement lands in `acked`. */
  const startOrders = () =>
    orderLoad({
      gateway: stack.gateway,
      shoppers,
      productIds,
      concurrency: P.concurrency,
      acked,
      unresolved,
    });

  /** When the first request sent after `since` succeeded; fails with the causes seen meanwhile. */
  async function recovered(outcomes: Outcome[], since: number, timeoutMs: number): Promise<number> {
    try {
      return await waitFor(
        'a request succeeds after the failure',
        () => firstSuccessAfter(outcomes, since + 1),
        timeoutMs,
        100,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; failures since: ${failureCauses(outcomes, since)}`);
    }
  }

  /** Commits one tick a 20 ms into the drill database, through the primary endpoint. */
  function tickLoad() {
    let stopping = false;
    let seq = 0;
    const loop = (async () => {
      const client = new pg.Pool({
        host: '127.0.0.1',
        port: proxy.pgPort,
        user: 'postgres',
        database: 'drill',
        max: 1,
        connectionTimeoutMillis: 2000,
      });
      client.on('error', () => {});
      while (!stopping) {
        try {
          await client.query('INSERT INTO ticks (seq) VALUES ($1)', [++seq]);
        } catch {}
        await sleep(20);
      }
      await client.end();
    })();
    return {
      stop: async () => {
        stopping = true;
        await loop;
      },
    };
  }

  test('PostgreSQL: the primary is lost under order load; a standby takes over; no acknowledged order is lost', async () => {
    const load = startOrders();
    const ticks = tickLoad();
    try {
      await sleep(P.beforeMs);
      const before = acked.length;
      assert.ok(before > 0, 'orders are acknowledged before the failure');
      const old = primary;
      const standbys = pgNodes.filter((n) => n !== old);
      const killedAt = Date.now();
      await pgs.crash(old);
      // The drill plays the operator: the failover runbook, step by step.
      const doc = 'postgresql-failover.md';
      const base = {
        OLD_PRIMARY_PORT: String(old.port),
        STANDBY_PORTS: standbys.map((n) => n.port).join(' '),
      };
      await runStep(doc, 'pg-primary-down', base, { user: 'postgres' });
      const chosenPort = Number(
        (await runStep(doc, 'pg-most-advanced', base, { user: 'postgres' })).stdout.trim(),
      );
      const chosen = standbys.find((n) => n.port === chosenPort);
      assert.ok(chosen, `the runbook picked a standby (${chosenPort})`);
      const other = standbys.find((n) => n !== chosen) as PgNode;
      await runStep(doc, 'pg-promote', { ...base, ...pgs.stepEnv(chosen) }, { user: 'postgres' });
      const promotedAt = Date.now();
      await runStep(
        doc,
        'pg-sync-standbys',
        { ...pgs.stepEnv(chosen), SYNC_STANDBYS: `${other.name}, ${old.name}` },
        { user: 'postgres' },
      );
      await runStep(
        doc,
        'pg-follow',
        { ...pgs.stepEnv(other), NEW_PRIMARY_PORT: String(chosen.port), NODE_NAME: other.name },
        { user: 'postgres' },
      );
      primary = chosen;
      const firstOk = await recovered(load.outcomes, killedAt, 120_000);
      await runStep(
        doc,
        'pg-replication-status',
        { NEW_PRIMARY_PORT: String(chosen.port) },
        { user: 'postgres' },
      );
      await sleep(P.afterMs);
      const failedCalls = load.outcomes.filter((o) => !o.ok && o.at >= killedAt).length;
      note(
        `PostgreSQL failover: primary killed -> ${chosen.name} promoted in ${secs(promotedAt - killedAt)}, ` +
          `first acknowledged order after ${secs(firstOk - killedAt)} (${failedCalls} order calls answered 5xx/failed and retried meanwhile)`,
      );
    } finally {
      await ticks.stop();
      await load.stop();
    }
    // Every acknowledged order is on the new primary.
    const ids = acked.map((a) => a.id);
    const rows = await pgs.query<{ id: string }>(
      primary,
      'SELECT id FROM orders WHERE id = ANY($1::uuid[])',
      [ids],
      'orders',
    );
    const lost = ids.length - rows.length;
    note(
      `PostgreSQL failover: ${ids.length} orders acknowledged, ${lost} lost (synchronous quorum commit: must be 0); ${unresolved.length} in doubt when the load stopped`,
    );
    assert.equal(lost, 0);
    // No order twice for one Idempotency-Key.
    const dup = await pgs.query<{ n: string }>(
      primary,
      'SELECT count(*) AS n FROM (SELECT key FROM idempotency_keys GROUP BY user_id, key HAVING count(*) > 1) d',
      [],
      'orders',
    );
    assert.equal(Number(dup[0]?.n), 0);
  });

  test('PostgreSQL: the old primary is rewound and rejoins as a standby', async () => {
    const old = pgNodes.find((n) => n.pid === undefined) as PgNode;
    assert.ok(old, 'one instance is down');
    const env = { ...pgs.stepEnv(old), PRIMARY_PORT: String(primary.port), NODE_NAME: old.name };
    const t = Date.now();
    await runStep('postgresql-rebuild-replica.md', 'replica-rewind', env, { user: 'postgres' });
    await runStep('postgresql-rebuild-replica.md', 'replica-start', env, { user: 'postgres' });
    adoptPostmaster(old);
    await runStep('postgresql-rebuild-replica.md', 'replica-streaming', env, { user: 'postgres' });
    note(`PostgreSQL rebuild: old primary rewound and streaming again in ${secs(Date.now() - t)}`);
    const st = await streaming(pgs, primary);
    assert.equal(st.length, 2);
    // It holds exactly what the new primary holds (one more committed order replicates to it).
    const probe = await pgs.query<{ n: string }>(primary, 'SELECT count(*) AS n FROM orders', [], 'orders');
    await waitFor(
      'the rebuilt standby has caught up',
      async () => {
        const r = await pgs.query<{ n: string }>(old, 'SELECT count(*) AS n FROM orders', [], 'orders');
        return Number(r[0]?.n) >= Number(probe[0]?.n);
      },
      30_000,
    );
  });

  test('Redis: the primary is lost under refresh-token load; Sentinel fails over; no token handed out is lost', async () => {
    const tokens: string[] = [];
    const relogins = { n: 0 };
    const load = refreshLoad({ gateway: stack.gateway, shoppers, acked: tokens, relogins });
    const doc = 'redis-failover.md';
    let victim: RedisNode | undefined;
    const env = {
      REDIS_PASSWORD: redis.password,
      MASTER_NAME,
      SENTINEL_PORT: String(redis.sentinels[0]?.port),
    };
    try {
      await sleep(P.beforeMs);
      assert.ok(tokens.length > 0);
      await runStep(doc, 'redis-ckquorum', env);
      const was = (await runStep(doc, 'redis-primary', env)).stdout.trim().split('\n').join(':');
      victim = redis.nodes.find((n) => `127.0.0.1:${n.port}` === was);
      assert.ok(victim?.proc, `primary ${was} is one of ours`);
      // Sentinel announces the promotion on +switch-master: its moment, not our polling's.
      let switchedAt: number | undefined;
      const watch = new Redis({
        host: '127.0.0.1',
        port: redis.sentinels[1]?.port,
        password: redis.password,
        lazyConnect: true,
      });
      watch.on('error', () => {});
      await watch.connect();
      await watch.subscribe('+switch-master');
      watch.on('message', () => {
        switchedAt ??= Date.now();
      });
      const killedAt = Date.now();
      victim.proc.signal('SIGKILL');
      await victim.proc.exited;
      const now = await waitFor(
        'Sentinels promote a replica',
        async () => {
          const p = (await runStep(doc, 'redis-primary', env)).stdout.trim().split('\n').join(':');
          return p !== was ? p : undefined;
        },
        60_000,
        100,
      );
      const promotedAt = await waitFor('+switch-master announced', () => switchedAt, 30_000, 50);
      watch.disconnect();
      const firstOk = await recovered(load.outcomes, killedAt, 60_000).catch(async (err: Error) => {
        // What each surviving node says about replication, for the report.
        const states = await Promise.all(
          redis.nodes
            .filter((n) => n !== victim)
            .map((n) => redis.cli(n.port, 'INFO', 'replication').catch((e: Error) => e.message)),
        );
        throw new Error(`${err.message}\n${states.join('\n')}`);
      });
      await sleep(P.afterMs);
      note(
        `Redis failover: primary killed -> ${now} promoted by Sentinel in ${secs(promotedAt - killedAt)} ` +
          `(down-after ${P.sentinelDownMs} ms), first refresh after ${secs(firstOk - killedAt)}; ${relogins.n} clients had to log in again`,
      );
      // The lost node comes back through the production start script, as a replica.
      redis.startNode(victim);
      await runStep(doc, 'redis-rejoined', { ...env, PORT: String(victim.port) });
    } finally {
      await load.stop();
      // Whatever happened, the set is whole again for the drills after this one.
      if (victim && !victim.proc?.alive()) redis.startNode(victim);
    }
    const newPrimary = (await redis.primary()).split(':')[1];
    const client = redis.client(Number(newPrimary));
    await client.connect();
    try {
      let lost = 0;
      for (const t of tokens) {
        const key = `user:rt:${createHash('sha256').update(t).digest('base64url')}`;
        if (!(await client.exists(key))) lost++;
      }
      note(
        `Redis failover: ${tokens.length} refresh tokens handed out, ${lost} lost (REDIS_MIN_REPLICA_ACKS=1: must be 0)`,
      );
      assert.equal(lost, 0);
    } finally {
      client.disconnect();
    }
    // A planned switchover, as before maintenance: the clients follow it too.
    const t = Date.now();
    const was = await redis.primary();
    await runStep(doc, 'redis-switchover', env);
    await waitFor('switchover done', async () => (await redis.primary()) !== was, 30_000, 100);
    await waitFor(
      'a new login after the switchover',
      () => signUp(stack.gateway).then((s) => Boolean(s.refreshToken)),
      60_000,
      100,
    );
    note(`Redis planned switchover: ${secs(Date.now() - t)} until a new login succeeded`);
  });

  test('RabbitMQ: the node leading the service queue is lost under order load; every confirmed event is consumed once', async () => {
    const vhostQueues = await rabbit.queues(rabbit.nodes[0] as RabbitNode);
    const q = vhostQueues.find((x) => x.name === 'notification-service.events');
    assert.equal(q?.type, 'quorum');
    assert.equal((q?.members as string[] | undefined)?.length, 3);
    const leader = rabbit.nodes.find((n) => n.node === q?.leader) as RabbitNode;
    const live = rabbit.nodes.find((n) => n !== leader) as RabbitNode;
    const doc = 'rabbitmq-node-loss.md';
    const env = { ...rabbit.ctlEnv, NODE: live.node, QUEUE: 'notification-service.events', VHOST: '/' };
    const before = acked.length;
    const load = startOrders();
    const ticks = tickLoad();
    let killedAt = 0;
    try {
      await sleep(P.beforeMs);
      killedAt = Date.now();
      leader.proc?.signal('SIGKILL');
      await leader.proc?.exited;
      await runStep(doc, 'rabbit-cluster-status', env);
      await waitFor(
        'a new leader',
        async () => {
          const now = (await rabbit.queues(live)).find((x) => x.name === 'notification-service.events');
          return now?.leader && now.leader !== leader.node;
        },
        60_000,
        250,
      );
      await runStep(doc, 'rabbit-quorum-status', env);
      // The PITR target: a moment in the middle of this load (after the PostgreSQL failover).
      const [row] = await pgs.query<{ t: string }>(
        primary,
        "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' AS t",
      );
      backupTarget = { time: row?.t as string, at: Date.now() };
      await sleep(P.afterMs);
    } finally {
      await ticks.stop();
      await load.stop();
    }
    assert.ok(acked.length > before, 'orders are acknowledged during the node loss');
    // The node comes back and is a full member again.
    rabbit.start(leader);
    const restartAt = Date.now();
    await runStep(doc, 'rabbit-node-back', { ...env, NODE: leader.node }, { timeoutMs: 240_000 });
    await waitFor(
      'the service queue has its 3 members online again',
      async () =>
        (
          (await rabbit.queues(live)).find((x) => x.name === 'notification-service.events')?.online as
            | string[]
            | undefined
        )?.length === 3,
      120_000,
      500,
    );
    note(
      `RabbitMQ: the lost node restarted and all 3 quorum members online again in ${secs(Date.now() - restartAt)}`,
    );
    // Every event the outboxes got confirmed is consumed; notification-service saw each once.
    const users = new pg.Client({ connectionString: rwUrl('user_service') });
    const orders = new pg.Client({ connectionString: rwUrl('order_service') });
    const notes = new pg.Client({ connectionString: rwUrl('notification_service') });
    await Promise.all([users.connect(), orders.connect(), notes.connect()]);
    try {
      const drained = await waitFor(
        'outboxes drained and every event consumed',
        async () => {
          const pending =
            Number(
              (await users.query('SELECT count(*) AS n FROM outbox WHERE published_at IS NULL')).rows[0].n,
            ) +
            Number(
              (await orders.query('SELECT count(*) AS n FROM outbox WHERE published_at IS NULL')).rows[0].n,
            );
          if (pending) return undefined;
          const ids = [
            ...(await users.query<{ id: string }>('SELECT id FROM outbox')).rows,
            ...(await orders.query<{ id: string }>('SELECT id FROM outbox')).rows,
          ].map((r) => r.id);
          const seen = await notes.query<{ n: string }>(
            'SELECT count(*) AS n FROM processed_events WHERE event_id = ANY($1::uuid[])',
            [ids],
          );
          return Number(seen.rows[0]?.n) === ids.length ? ids.length : undefined;
        },
        120_000,
        500,
      );
      const resumed = await notes.query<{ t: Date | null }>(
        'SELECT min(processed_at) AS t FROM processed_events WHERE processed_at > to_timestamp($1::double precision / 1000)',
        [killedAt],
      );
      const resumedMs = resumed.rows[0]?.t ? resumed.rows[0].t.getTime() - killedAt : Number.NaN;
      const dupNotes = await notes.query<{ n: string }>(
        'SELECT count(*) AS n FROM (SELECT event_id, channel FROM notifications GROUP BY 1, 2 HAVING count(*) > 1) d',
      );
      assert.equal(Number(dupNotes.rows[0]?.n), 0);
      const metrics = await (await fetch(`${stack.urls['notification-service']}/metrics`)).text();
      const dups = [
        ...metrics.matchAll(/messages_consumed_total\{[^}]*outcome="duplicate"[^}]*\} (\d+)/g),
      ].reduce((s, m) => s + Number(m[1]), 0);
      const orderIds = acked.map((a) => a.id);
      const missing = await orders.query<{ n: string }>(
        'SELECT count(*) AS n FROM unnest($1::uuid[]) AS a(id) WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = a.id)',
        [orderIds],
      );
      note(
        `RabbitMQ node loss: leader ${leader.name} killed; first event consumed after it at ${secs(resumedMs)}; ${drained} confirmed events all consumed (0 lost), ` +
          `${dups} redeliveries dropped as duplicates by event id, 0 notifications twice; ${Number(missing.rows[0]?.n)} of ${orderIds.length} acknowledged orders missing`,
      );
      assert.equal(Number(missing.rows[0]?.n), 0);
    } finally {
      await Promise.all([users.end(), orders.end(), notes.end()]);
    }
  });

  test('PostgreSQL: point-in-time restore from pgBackRest into a fresh cluster matches the moment chosen', async () => {
    assert.ok(backupTarget, 'a target time was taken during the load');
    const target = backupTarget;
    const doc = 'postgresql-restore.md';
    await runStep(doc, 'archive-check', pgs.stepEnv(primary), { user: 'postgres' });
    const restored = await pgs.newNode('pgrestore');
    const t = Date.now();
    await runStep(
      doc,
      'restore-pitr',
      { ...pgs.stepEnv(restored), TARGET_TIME: target.time },
      { user: 'postgres', timeoutMs: 600_000 },
    );
    adoptPostmaster(restored);
    const restoreMs = Date.now() - t;
    await runStep(doc, 'restore-check', pgs.stepEnv(restored), { user: 'postgres' });
    // Exactly the ticks committed at or before the target, by their commit timestamps.
    const expected = await pgs.query<{ seq: string }>(
      primary,
      'SELECT seq FROM ticks WHERE pg_xact_commit_timestamp(xmin) <= $1::timestamptz ORDER BY seq',
      [target.time],
      'drill',
    );
    const got = await pgs.query<{ seq: string }>(restored, 'SELECT seq FROM ticks ORDER BY seq', [], 'drill');
    assert.ok(expected.length > 0);
    assert.deepEqual(
      got.map((r) => r.seq),
      expected.map((r) => r.seq),
    );
    // Orders: everything acknowledged before the target is there, nothing sent after it.
    const restoredIds = new Set(
      (await pgs.query<{ id: string }>(restored, 'SELECT id FROM orders', [], 'orders')).map((r) => r.id),
    );
    const before = acked.filter((a) => a.ackAt < target.at - 50);
    const afterT = acked.filter((a) => a.sentAt > target.at + 50);
    assert.ok(
      before.every((a) => restoredIds.has(a.id)),
      'orders acknowledged before the target are restored',
    );
    assert.ok(
      afterT.every((a) => !restoredIds.has(a.id)),
      'orders placed after the target are not',
    );
    note(
      `PostgreSQL point-in-time restore to ${target.time} (across the failover's timeline switch): ${secs(restoreMs)}; ` +
        `${got.length} of ${got.length} ticks exactly as committed by then, ${before.length} earlier orders present, ${afterT.length} later ones absent`,
    );
    await pgs.stop(restored);
  });

  test('credentials: rotated on every store; the new password works, the old one no longer does', async () => {
    const doc = 'rotate-credentials.md';
    const fresh = randomBytes(18).toString('hex');
    // PostgreSQL, through the primary endpoint.
    await runStep(
      doc,
      'rotate-postgresql',
      { ...pgs.stepEnv(primary), ROLE: 'order_service', NEW_PASSWORD: fresh },
      { user: 'postgres' },
    );
    const ok = new pg.Client({ connectionString: rwUrl('order_service', fresh) });
    await ok.connect();
    await ok.end();
    // The old password is refused by the server. A session cut by the proxy before the server
    // answered says nothing either way: try again (and say so), until the refusal itself comes.
    const refusal = await waitFor(
      'the old password refused by the primary',
      async (): Promise<string | undefined> => {
        const bad = new pg.Client({
          connectionString: rwUrl('order_service'),
          connectionTimeoutMillis: 5000,
        });
        try {
          await bad.connect();
          await bad.end();
          return 'the old password was accepted';
        } catch (err) {
          const message = (err as Error).message;
          if (/password authentication failed/.test(message)) return message;
          note(`old password: '${message}' before the server answered; HAProxy:\n${proxy.stateChanges()}`);
          return undefined;
        }
      },
      20_000,
    );
    assert.match(refusal, /password authentication failed for user "order_service"/);
    // RabbitMQ.
    const live = rabbit.nodes[0] as RabbitNode;
    await runStep(doc, 'rotate-rabbitmq', {
      ...rabbit.ctlEnv,
      NODE: live.node,
      RABBIT_USER: rabbit.user,
      NEW_PASSWORD: fresh,
    });
    const refused = await run(
      '/usr/lib/rabbitmq/bin/rabbitmqctl',
      ['-n', live.node, 'authenticate_user', rabbit.user, rabbit.password],
      { env: rabbit.ctlEnv },
    );
    assert.notEqual(refused.code, 0);
    // Redis: both passwords during the switch, only the new one after.
    const env = {
      OLD_PASSWORD: redis.password,
      NEW_PASSWORD: fresh,
      MASTER_NAME,
      REDIS_PORTS: redis.nodes.map((n) => n.port).join(' '),
      SENTINEL_PORTS: redis.sentinels.map((s) => s.port).join(' '),
    };
    await runStep(doc, 'rotate-redis-add', env);
    const [host, port] = (await redis.primary()).split(':');
    const auth = async (password: string) => {
      const c = new Redis({
        host,
        port: Number(port),
        password,
        lazyConnect: true,
        connectTimeout: 2000,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
      });
      c.on('error', () => {});
      try {
        await c.connect();
        return (await c.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        c.disconnect();
      }
    };
    assert.equal(await auth(fresh), true);
    assert.equal(await auth(redis.password), true);
    await runStep(doc, 'rotate-redis-drop-old', env);
    assert.equal(await auth(fresh), true);
    assert.equal(await auth(redis.password), false);
    // The Sentinels still see the whole set with the new password (once they have reconnected
    // with it: right after the old one is dropped a Sentinel may still flag the link disconnected).
    const sentinelFlags = async () =>
      fields(
        await run(
          'redis-cli',
          ['-p', String(redis.sentinels[0]?.port), '--raw', 'SENTINEL', 'master', MASTER_NAME],
          { env: { REDISCLI_AUTH: fresh } },
        ).then((r) => r.stdout),
      ).flags;
    const flags = await waitFor(
      'the Sentinel sees the primary with the new password',
      async () => {
        const f = await sentinelFlags();
        return f === 'master' ? f : undefined;
      },
      30_000,
    ).catch(sentinelFlags);
    assert.equal(flags, 'master');
    note(
      'credentials rotated on PostgreSQL (order_service), RabbitMQ (mdp) and Redis (all 6 processes, no window without a valid password)',
    );
  });

  test('every step of every runbook was executed', () => {
    for (const doc of [
      'postgresql-failover.md',
      'postgresql-rebuild-replica.md',
      'postgresql-restore.md',
      'redis-failover.md',
      'rabbitmq-node-loss.md',
      'rotate-credentials.md',
    ])
      assert.deepEqual(stepsNotRun(doc), [], doc);
  });
});
