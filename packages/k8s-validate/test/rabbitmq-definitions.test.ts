import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TEST_RABBIT_API, type TempVhost, tempVhost } from '@mdp/platform/testing';
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
});
