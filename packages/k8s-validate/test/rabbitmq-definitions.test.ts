import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CONSUMERS } from '@mdp/contracts/events';
import { declareConsumerTopology } from '@mdp/platform/consumer';
import { declareEventsExchange, EVENTS_EXCHANGE } from '@mdp/platform/events';
import { TEST_AMQP_URL, TEST_RABBIT_API, type TempVhost, tempVhost } from '@mdp/platform/testing';
import amqplib from 'amqplib';
import { repoRoot } from './helpers.js';

/**
 * databases/rabbitmq/definitions.json imported into this machine's RabbitMQ through the same
 * management API the rabbitmq-definitions Job uses, into a temporary vhost (never "/").
 */
describe('RabbitMQ definitions.json on a real broker', () => {
  let vh: TempVhost;
  const api = new URL(TEST_RABBIT_API);
  const auth = `Basic ${Buffer.from(`${decodeURIComponent(api.username)}:${decodeURIComponent(api.password)}`).toString('base64')}`;
  const call = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(new URL(p, api.origin), {
      method,
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  };

  before(async () => {
    vh = await tempVhost('k8sdefs');
  });
  after(async () => {
    await vh?.drop();
  });

  test('the broker accepts the file and builds the contract topology', async () => {
    const defs = JSON.parse(readFileSync(path.join(repoRoot, 'databases/rabbitmq/definitions.json'), 'utf8'));
    const v = encodeURIComponent(vh.vhost);
    const body = {
      exchanges: defs.exchanges.map((x: object) => ({ ...x, vhost: vh.vhost })),
      queues: defs.queues.map((x: object) => ({ ...x, vhost: vh.vhost })),
      bindings: defs.bindings.map((x: object) => ({ ...x, vhost: vh.vhost })),
    };
    const imported = await call('POST', `/api/definitions/${v}`, body);
    assert.ok(imported.status >= 200 && imported.status < 300, JSON.stringify(imported.json));

    const ex = await call('GET', `/api/exchanges/${v}/mdp.events`);
    assert.equal(ex.status, 200);
    assert.deepEqual([ex.json.type, ex.json.durable], ['topic', true]);
    const q = await call('GET', `/api/queues/${v}/notification-service.events`);
    assert.equal(q.status, 200);
    assert.equal(q.json.durable, true);
    assert.equal(q.json.type, 'quorum');
    assert.equal(q.json.arguments['x-dead-letter-exchange'], 'mdp.events.dlx');
    const dlq = await call('GET', `/api/queues/${v}/notification-service.events.dlq`);
    assert.equal(dlq.status, 200);
    assert.equal(dlq.json.type, 'quorum');
    const b = await call('GET', `/api/bindings/${v}/e/mdp.events/q/notification-service.events`);
    assert.deepEqual(b.json.map((x: { routing_key: string }) => x.routing_key).sort(), [
      'order.cancelled',
      'order.created',
      'product.stock_low',
      'user.registered',
    ]);

    // Importing again (every Argo CD sync does) changes nothing and does not fail.
    const again = await call('POST', `/api/definitions/${v}`, body);
    assert.ok(again.status >= 200 && again.status < 300);
  });

  test('one user per service with the least permissions it needs: each can do its job and nothing else', async () => {
    const defs = JSON.parse(readFileSync(path.join(repoRoot, 'databases/rabbitmq/definitions.json'), 'utf8'));
    const perms = defs.permissions as {
      user: string;
      vhost: string;
      configure: string;
      write: string;
      read: string;
    }[];
    assert.deepEqual(perms?.map((p) => p.user).sort(), [
      'notification-service',
      'order-service',
      'product-service',
      'user-service',
    ]);
    // The users as the rabbitmq-definitions Job makes them (no administrator tag), under names
    // of this run, with the file's permissions imported the Job's way (POST /api/definitions).
    const run = vh.vhost;
    const password = randomBytes(12).toString('hex');
    const name = (user: string) => `${run}-${user}`;
    for (const p of perms) {
      const made = await call('PUT', `/api/users/${encodeURIComponent(name(p.user))}`, {
        password,
        tags: '',
      });
      assert.ok(made.status >= 200 && made.status < 300, JSON.stringify(made.json));
    }
    try {
      const imported = await call('POST', '/api/definitions', {
        permissions: perms.map((p) => ({ ...p, user: name(p.user), vhost: vh.vhost })),
      });
      assert.ok(imported.status >= 200 && imported.status < 300, JSON.stringify(imported.json));
      const connect = (user: string) => {
        const url = new URL(TEST_AMQP_URL);
        url.username = encodeURIComponent(name(user));
        url.password = password;
        url.pathname = `/${encodeURIComponent(vh.vhost)}`;
        return amqplib.connect(url.toString(), { timeout: 10_000 });
      };
      /** Runs `fn` on a fresh confirm channel; 'ok' or the broker's refusal code (403...). */
      const attempt = async (
        conn: amqplib.ChannelModel,
        fn: (ch: amqplib.ConfirmChannel) => Promise<unknown>,
      ) => {
        const ch = await conn.createConfirmChannel();
        // A refused publish closes the channel (the broker's code comes with the close).
        let closedWith: string | undefined;
        ch.on('error', (e: { code?: number }) => {
          closedWith = String(e.code);
        });
        try {
          await fn(ch);
          await ch.close();
          return 'ok';
        } catch (err) {
          await new Promise((r) => setImmediate(r));
          return closedWith ?? String((err as { code?: number }).code ?? (err as Error).message);
        }
      };
      const publish = (ch: amqplib.ConfirmChannel, exchange: string, key: string) =>
        new Promise<void>((resolve, reject) =>
          ch.publish(exchange, key, Buffer.from('{}'), { persistent: true }, (e) =>
            e ? reject(e) : resolve(),
          ),
        );
      const consumer = CONSUMERS['notification-service'];

      // The consumer first: its whole topology, exactly as the platform declares it.
      const notifications = await connect('notification-service');
      const topology = {
        queue: consumer.queue,
        bindings: [...consumer.events],
        retryDelaysMs: [...consumer.retryDelaysMs],
      };
      const got: Record<string, string> = {
        'notification-service declares its topology': await attempt(notifications, (ch) =>
          declareConsumerTopology(ch, topology),
        ),
        'notification-service consumes its queue': await attempt(notifications, (ch) =>
          ch.consume(consumer.queue, () => {}),
        ),
        'notification-service parks a retry': await attempt(
          notifications,
          (ch) =>
            new Promise<void>((resolve, reject) =>
              ch.sendToQueue(`${consumer.queue}.retry.1`, Buffer.from('{}'), {}, (e) =>
                e ? reject(e) : resolve(),
              ),
            ),
        ),
        'notification-service dead-letters': await attempt(notifications, (ch) =>
          publish(ch, 'mdp.events.dlx', consumer.queue),
        ),
        'notification-service publishes an event': await attempt(notifications, (ch) =>
          publish(ch, EVENTS_EXCHANGE, 'order.created'),
        ),
        'notification-service declares another queue': await attempt(notifications, (ch) =>
          ch.assertQueue('stolen', { durable: false }),
        ),
      };
      await notifications.close();
      for (const producer of ['user-service', 'product-service', 'order-service']) {
        const conn = await connect(producer);
        got[`${producer} declares and publishes to mdp.events`] = await attempt(conn, async (ch) => {
          await declareEventsExchange(ch);
          await publish(ch, EVENTS_EXCHANGE, 'order.created');
        });
        got[`${producer} reads the notification queue`] = await attempt(conn, (ch) =>
          ch.consume(consumer.queue, () => {}),
        );
        got[`${producer} publishes to the dead-letter exchange`] = await attempt(conn, (ch) =>
          publish(ch, 'mdp.events.dlx', consumer.queue),
        );
        got[`${producer} sends straight to the queue`] = await attempt(
          conn,
          (ch) =>
            new Promise<void>((resolve, reject) =>
              ch.sendToQueue(consumer.queue, Buffer.from('{}'), {}, (e) => (e ? reject(e) : resolve())),
            ),
        );
        got[`${producer} deletes the exchange`] = await attempt(conn, (ch) =>
          ch.deleteExchange(EVENTS_EXCHANGE),
        );
        await conn.close();
      }
      const expected: Record<string, string> = {
        'notification-service declares its topology': 'ok',
        'notification-service consumes its queue': 'ok',
        'notification-service parks a retry': 'ok',
        'notification-service dead-letters': 'ok',
        'notification-service publishes an event': '403',
        'notification-service declares another queue': '403',
      };
      for (const producer of ['user-service', 'product-service', 'order-service']) {
        expected[`${producer} declares and publishes to mdp.events`] = 'ok';
        expected[`${producer} reads the notification queue`] = '403';
        expected[`${producer} publishes to the dead-letter exchange`] = '403';
        expected[`${producer} sends straight to the queue`] = '403';
        expected[`${producer} deletes the exchange`] = 'ok';
      }
      assert.deepEqual(got, expected);
    } finally {
      for (const p of perms) await call('DELETE', `/api/users/${encodeURIComponent(name(p.user))}`);
    }
  });
});
