import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AnyEvent } from '@mdp/contracts/events';
import { sampleEvent } from '@mdp/contracts/testing';
import { createAmqp } from '@mdp/platform/amqp';
import { jwtRouteAuth } from '@mdp/platform/auth';
import type { EventConsumer } from '@mdp/platform/consumer';
import { DEAD_LETTER_REASON_HEADER, topologyNames } from '@mdp/platform/consumer';
import { EVENTS_EXCHANGE, EventPublisher } from '@mdp/platform/events';
import { initFlags } from '@mdp/platform/flags';
import { Health } from '@mdp/platform/health';
import type { HttpApp } from '@mdp/platform/http';
import { createLogger } from '@mdp/platform/logger';
import { Metrics } from '@mdp/platform/metrics';
import { migrate } from '@mdp/platform/postgres';
import { eventually, rabbitApi, tempDatabase, tempVhost } from '@mdp/platform/testing';
import amqplib, { type ConfirmChannel } from 'amqplib';
import type pg from 'pg';
import { connectPostgres } from '../src/adapters/postgres.js';
import { QUEUE } from '../src/adapters/rabbitmq.js';
import { buildApp } from '../src/app.js';
import { definition } from '../src/config.js';
import { tokenKit } from './tokens.js';

const info = { service: 'notification-service', version: 't', commit: 't' };
const logger = createLogger({ service: 'notification-service', level: 'silent' });

interface Hit {
  path: string;
  body: Record<string, unknown>;
}

/** Stands in for the webhook receiver and Slack: records requests, answers with `status()`. */
async function fakeEndpoint() {
  const hits: Hit[] = [];
  let status = () => 200;
  const server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => {
      data += c;
    });
    req.on('end', () => {
      const code = status();
      if (code === 200) hits.push({ path: req.url ?? '', body: JSON.parse(data || '{}') });
      res.writeHead(code, { 'content-type': 'text/plain' });
      res.end(code === 200 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    hits,
    base,
    setStatus(fn: () => number) {
      status = fn;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function metricValue(metrics: Metrics, name: string, labels: Record<string, string>) {
  const m = (await metrics.registry.getSingleMetric(name)?.get()) as
    | { values: { labels: Record<string, string>; value: number }[] }
    | undefined;
  return m?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value ?? 0;
}

describe('notification-service with a real RabbitMQ vhost and PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof tempDatabase>>;
  let vhost: Awaited<ReturnType<typeof tempVhost>>;
  let pool: pg.Pool;
  let amqp: ReturnType<typeof createAmqp>;
  let pubConn: ReturnType<typeof createAmqp>;
  let publisher: EventPublisher;
  let app: HttpApp;
  let consumer: EventConsumer<AnyEvent>;
  let metrics: Metrics;
  let endpoint: Awaited<ReturnType<typeof fakeEndpoint>>;
  let flagDir: string;
  let keys: Awaited<ReturnType<typeof tokenKit>>;

  before(async () => {
    [db, vhost] = await Promise.all([tempDatabase('notifications'), tempVhost('notifications')]);
    await migrate(db.url, definition.migrations?.dir as string);
    pool = connectPostgres(db.url);
    endpoint = await fakeEndpoint();
    flagDir = await mkdtemp(path.join(tmpdir(), 'notif-flags-'));
    const flagFile = path.join(flagDir, 'flags.json');
    await writeFile(
      flagFile,
      JSON.stringify({
        flags: {
          'notifications.webhook-enabled': {
            state: 'ENABLED',
            variants: { on: true, off: false },
            defaultVariant: 'on',
          },
          'notifications.slack-enabled': {
            state: 'ENABLED',
            variants: { on: true, off: false },
            defaultVariant: 'on',
          },
        },
      }),
    );
    metrics = new Metrics(info, { defaultMetrics: false });
    const flags = await initFlags(
      { FLAGS_PROVIDER: 'file', FLAGS_FILE: flagFile },
      { logger, metrics, domain: `notif-${randomUUID()}` },
    );
    keys = await tokenKit();
    amqp = createAmqp(vhost.url, { name: 'notification-test' });
    ({ app, consumer } = buildApp({
      info,
      logger,
      metrics,
      health: new Health(),
      flags,
      db: pool,
      amqp,
      auth: jwtRouteAuth(keys.publicPem),
      channels: {
        webhookUrl: `${endpoint.base}/hook`,
        slackWebhookUrl: `${endpoint.base}/slack`,
        timeoutMs: 1000,
      },
      retryDelaysMs: [100, 300],
    }));
    await app.ready();
    await consumer.start();
    pubConn = createAmqp(vhost.url, { name: 'notification-test-publisher' });
    publisher = new EventPublisher(pubConn, {
      logger,
      metrics: new Metrics(info, { defaultMetrics: false }),
    });
  });

  after(async () => {
    await consumer?.stop();
    await app?.close();
    await publisher?.close();
    await pubConn?.close();
    await amqp?.close();
    await pool?.end();
    await endpoint?.close();
    await rm(flagDir, { recursive: true, force: true });
    await Promise.all([db?.drop(), vhost?.drop()]);
  });

  const rows = async (eventId: string) =>
    (
      await pool.query<{ channel: string; status: string; attempts: number; type: string; user_id: string }>(
        'SELECT channel, status, attempts, type, user_id FROM notifications WHERE event_id = $1 ORDER BY channel',
        [eventId],
      )
    ).rows;

  test('each event becomes a notification per channel for its recipient; GET /notifications shows own only', async () => {
    const alice = randomUUID();
    const bob = randomUUID();
    const welcome = sampleEvent('user.registered', { userId: alice, email: 'a@x', name: 'Alice' });
    const created = sampleEvent('order.created', { userId: alice, total: { amount: 1999, currency: 'EUR' } });
    const cancelled = sampleEvent('order.cancelled', { userId: alice });
    const bobs = sampleEvent('order.created', { userId: bob });
    for (const e of [welcome, created, cancelled, bobs]) await publisher.publish(e);
    await eventually(
      async () =>
        (await rows(bobs.id)).every((r) => r.status === 'sent') && (await rows(bobs.id)).length === 3,
    );
    for (const e of [welcome, created, cancelled])
      await eventually(async () => {
        const r = await rows(e.id);
        return r.length === 3 && r.every((x) => x.status === 'sent');
      });
    assert.deepEqual(
      (await rows(created.id)).map((r) => r.channel),
      ['log', 'slack', 'webhook'],
    );
    const res = await app.inject({
      method: 'GET',
      url: '/notifications',
      headers: { authorization: `Bearer ${await keys.sign(alice)}` },
    });
    assert.equal(res.statusCode, 200);
    const items = res.json().items as { type: string; channel: string; status: string; createdAt: string }[];
    assert.equal(items.length, 9);
    assert.deepEqual([...new Set(items.map((i) => i.type))].sort(), [
      'order_cancellation',
      'order_confirmation',
      'welcome',
    ]);
    const slack = endpoint.hits.filter((h) => h.path === '/slack');
    assert.ok(slack.some((h) => String(h.body.text).includes('Welcome to the shop, Alice')));
    assert.ok(endpoint.hits.some((h) => h.path === '/hook' && h.body.eventId === created.id));
    const anon = await app.inject({ method: 'GET', url: '/notifications' });
    assert.equal(anon.statusCode, 401);
  });

  test('text users control reaches Slack escaped: no <!channel> mention, no disguised link, no unfurl', async () => {
    const name = '<!channel> & <https://evil.example|your order> <@U123>';
    const e = sampleEvent('user.registered', { userId: randomUUID(), email: 'm@x', name });
    await publisher.publish(e);
    const hit = await eventually(() =>
      endpoint.hits.find(
        (h) =>
          h.path === '/slack' &&
          String(h.body.text).includes('Welcome to the shop') &&
          String(h.body.text).includes('evil.example'),
      ),
    );
    const text = String(hit.body.text);
    assert.equal(
      text,
      '[welcome] Welcome to the shop, &lt;!channel&gt; &amp; &lt;https://evil.example|your order&gt; &lt;@U123&gt;!',
    );
    assert.ok(!/[<>]/.test(text), text);
    assert.equal(hit.body.unfurl_links, false);
    assert.equal(hit.body.unfurl_media, false);
    // The JSON webhook carries the text as data (its receiver escapes for its own format).
    const hook = await eventually(() =>
      endpoint.hits.find((h) => h.path === '/hook' && h.body.eventId === e.id),
    );
    assert.equal(hook.body.message, `Welcome to the shop, ${name}!`);
  });

  test('GET /openapi.json documents GET /notifications', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.ok(doc.paths['/notifications']?.get);
  });

  test('a redelivered event sends nothing twice (idempotent by event id)', async () => {
    const e = sampleEvent('order.created');
    await publisher.publish(e);
    await eventually(async () => (await rows(e.id)).filter((r) => r.status === 'sent').length === 3);
    const dupBefore = await metricValue(metrics, 'messages_consumed_total', {
      queue: QUEUE,
      outcome: 'duplicate',
    });
    await publisher.publish(e);
    await publisher.publish(e);
    await eventually(
      async () =>
        (await metricValue(metrics, 'messages_consumed_total', { queue: QUEUE, outcome: 'duplicate' })) ===
        dupBefore + 2,
    );
    assert.equal(endpoint.hits.filter((h) => h.path === '/hook' && h.body.eventId === e.id).length, 1);
    assert.equal((await rows(e.id)).length, 3);
  });

  test('a failing channel is retried with backoff and only that channel is resent', async () => {
    let failures = 2;
    endpoint.setStatus(() => (failures-- > 0 ? 500 : 200));
    try {
      const e = sampleEvent('order.cancelled');
      await publisher.publish(e);
      await eventually(async () => {
        const r = await rows(e.id);
        return r.length === 3 && r.every((x) => x.status === 'sent');
      }, 5000);
      const r = await rows(e.id);
      const log = r.find((x) => x.channel === 'log');
      assert.equal(log?.attempts, 1, 'the log channel went out once');
      const failedOnes = r.filter((x) => x.attempts > 1);
      assert.ok(failedOnes.length >= 1, 'the failing channel was tried more than once');
      assert.equal(
        endpoint.hits.filter((h) => JSON.stringify(h.body).includes(String(e.data.orderId))).length,
        2,
      );
    } finally {
      endpoint.setStatus(() => 200);
    }
  });

  test('poison and exhausted messages go to the DLQ and do not block the queue', async () => {
    const ch = await new Promise<ConfirmChannel>((resolve) => {
      const w = pubConn.createChannel({ setup: async (c: ConfirmChannel) => resolve(c) });
      void w;
    });
    // Not JSON at all: dead-lettered at once.
    ch.publish(EVENTS_EXCHANGE, 'order.created', Buffer.from('{not json'), { messageId: 'poison-1' });
    await ch.waitForConfirms();
    // A webhook that always fails: retried twice, then dead-lettered; its row says failed.
    endpoint.setStatus(() => 503);
    const doomed = sampleEvent('order.created');
    await publisher.publish(doomed);
    // Its first attempt has failed (the webhook row says so) before the webhook recovers.
    await eventually(async () =>
      (await rows(doomed.id)).some((r) => r.channel === 'webhook' && r.attempts >= 1),
    );
    endpoint.setStatus(() => 200);
    // Meanwhile a good message passes.
    const good = sampleEvent('user.registered', { name: 'Gus' });
    endpoint.setStatus(() => 200);
    await publisher.publish(good);
    await eventually(
      async () => (await rows(good.id)).every((r) => r.status === 'sent') && (await rows(good.id)).length > 0,
    );
    const dlqCount = async () => {
      const { url, headers } = rabbitApi(
        `/api/queues/${encodeURIComponent(vhost.vhost)}/${encodeURIComponent(`${QUEUE}.dlq`)}`,
      );
      const res = await fetch(url, { headers });
      return ((await res.json()) as { messages?: number }).messages ?? 0;
    };
    await eventually(async () => (await dlqCount()) >= 1, 10_000, 200);
    const deadLettered = await metricValue(metrics, 'messages_consumed_total', {
      queue: QUEUE,
      outcome: 'dead_letter',
    });
    assert.ok(deadLettered >= 1);
  });

  test('a message that breaks the contract goes to the DLQ with the reason and notifies nobody', async () => {
    const valid = sampleEvent('order.created');
    const { userId: _dropped, ...withoutRecipient } = valid.data;
    const bad = { ...valid, data: withoutRecipient };
    const conn = await amqplib.connect(vhost.url);
    try {
      const ch = await conn.createConfirmChannel();
      ch.publish(EVENTS_EXCHANGE, 'order.created', Buffer.from(JSON.stringify(bad)), { messageId: bad.id });
      await ch.waitForConfirms();
      const dlq = topologyNames(QUEUE, 0).deadLetterQueue;
      const idOf = (body: Buffer) => {
        try {
          return (JSON.parse(body.toString()) as { id?: string }).id;
        } catch {
          return undefined;
        }
      };
      // Reads the DLQ without acking: closing the channel puts everything back.
      const reasonInDlq = async () => {
        const reader = await conn.createChannel();
        try {
          for (let m = await reader.get(dlq); m; m = await reader.get(dlq))
            if (idOf(m.content) === bad.id) return String(m.properties.headers?.[DEAD_LETTER_REASON_HEADER]);
          return undefined;
        } finally {
          await reader.close();
        }
      };
      const reason = await eventually(reasonInDlq, 10_000);
      assert.match(String(reason), /^invalid event: order\.created: \/data\/userId/);
      assert.deepEqual(await rows(bad.id), [], 'not handled');
    } finally {
      await conn.close();
    }
  });

  test('a handler failing on every try is dead-lettered after the bounded retries', async () => {
    endpoint.setStatus(() => 503);
    try {
      const doomed = sampleEvent('order.created');
      const before = await metricValue(metrics, 'messages_consumed_total', {
        queue: QUEUE,
        outcome: 'dead_letter',
      });
      await publisher.publish(doomed);
      await eventually(
        async () =>
          (await metricValue(metrics, 'messages_consumed_total', {
            queue: QUEUE,
            outcome: 'dead_letter',
          })) ===
          before + 1,
        10_000,
      );
      const r = await rows(doomed.id);
      assert.deepEqual(
        r.filter((x) => x.channel !== 'log').map((x) => [x.status, x.attempts]),
        [
          ['failed', 3],
          ['failed', 3],
        ],
      );
      assert.equal(r.find((x) => x.channel === 'log')?.attempts, 1);
    } finally {
      endpoint.setStatus(() => 200);
    }
  });
});
