/**
 * databases/rabbitmq/definitions.json (what the cluster's definitions Job imports) against the
 * contract: the exchanges, each consumer's queue, dead-letter queue, retry queues and bindings.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createAmqp, DEAD_LETTER_EXCHANGE } from '@mdp/platform/amqp';
import { consumerQueues, declareConsumerTopology, topologyNames } from '@mdp/platform/consumer';
import { EVENTS_EXCHANGE } from '@mdp/platform/events';
import { rabbitApi, tempVhost } from '@mdp/platform/testing';
import type { ConfirmChannel } from 'amqplib';
import { CONSUMERS, EVENT_TYPES } from '../src/events.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface Definitions {
  exchanges: { name: string; type: string; durable: boolean }[];
  queues: { name: string; durable: boolean; arguments: Record<string, unknown> }[];
  bindings: { source: string; destination: string; routing_key: string; destination_type: string }[];
}
const defs = JSON.parse(
  readFileSync(path.join(REPO, 'databases/rabbitmq/definitions.json'), 'utf8'),
) as Definitions;

test('definitions.json declares the contract: exchanges, each consumer queue, its DLQ, retries and bindings', () => {
  const exchange = (name: string) => defs.exchanges.find((e) => e.name === name);
  assert.deepEqual([exchange(EVENTS_EXCHANGE)?.type, exchange(EVENTS_EXCHANGE)?.durable], ['topic', true]);
  assert.deepEqual(
    [exchange(DEAD_LETTER_EXCHANGE)?.type, exchange(DEAD_LETTER_EXCHANGE)?.durable],
    ['topic', true],
  );
  const expectedQueues: string[] = [];
  for (const consumer of Object.values(CONSUMERS)) {
    const names = topologyNames(consumer.queue, consumer.retryDelaysMs.length);
    expectedQueues.push(names.queue, names.deadLetterQueue, ...names.retryQueues);
    // Every queue exactly as the consumer declares it (quorum, dead-lettering, retry TTLs): an
    // argument that differs would make the broker refuse the service's declaration.
    for (const q of consumerQueues(consumer))
      assert.deepEqual(
        defs.queues.find((d) => d.name === q.name)?.arguments,
        q.options.arguments,
        `${q.name} arguments`,
      );
    const bound = defs.bindings
      .filter((b) => b.source === EVENTS_EXCHANGE && b.destination === consumer.queue)
      .map((b) => b.routing_key);
    assert.deepEqual(bound.sort(), [...consumer.events].sort(), `${consumer.queue} bindings`);
    assert.ok(
      defs.bindings.some(
        (b) =>
          b.source === DEAD_LETTER_EXCHANGE &&
          b.destination === names.deadLetterQueue &&
          b.routing_key === consumer.queue,
      ),
      `${names.deadLetterQueue} is bound to ${DEAD_LETTER_EXCHANGE}`,
    );
  }
  assert.deepEqual(
    defs.queues.map((q) => q.name).sort(),
    expectedQueues.sort(),
    'no queue outside the contract',
  );
  for (const q of defs.queues) assert.equal(q.durable, true, `${q.name} durable`);
  for (const b of defs.bindings.filter((x) => x.source === EVENTS_EXCHANGE))
    assert.ok(
      EVENT_TYPES.includes(b.routing_key as never),
      `${b.routing_key} is an event type of the contract`,
    );
});

test('definitions.json is the topology the consumer declares from the contract (real broker)', async () => {
  const vhost = await tempVhost('topology');
  const conn = createAmqp(vhost.url, { name: 'topology-test' });
  try {
    const w = conn.createChannel({
      setup: async (ch: ConfirmChannel) => {
        for (const c of Object.values(CONSUMERS))
          await declareConsumerTopology(ch, {
            queue: c.queue,
            bindings: [...c.events],
            retryDelaysMs: [...c.retryDelaysMs],
          });
      },
    });
    await w.waitForConnect();
    const v = encodeURIComponent(vhost.vhost);
    const get = async (p: string) => {
      const { url, headers } = rabbitApi(p);
      return (await (await fetch(url, { headers })).json()) as Record<string, unknown>[];
    };
    const byName = (a: { name: unknown }, b: { name: unknown }) =>
      String(a.name).localeCompare(String(b.name));
    const queues = (await get(`/api/queues/${v}`)).map((q) => ({
      name: q.name,
      durable: q.durable,
      arguments: q.arguments,
    }));
    const want = defs.queues.map((q) => ({ name: q.name, durable: q.durable, arguments: q.arguments }));
    assert.deepEqual(queues.sort(byName), want.sort(byName));
    const exchanges = (await get(`/api/exchanges/${v}`))
      .filter((e) => String(e.name).startsWith('mdp.'))
      .map((e) => ({ name: e.name, type: e.type, durable: e.durable }))
      .sort(byName);
    assert.deepEqual(
      exchanges,
      defs.exchanges.map((e) => ({ name: e.name, type: e.type, durable: e.durable })).sort(byName),
    );
    const key = (b: Record<string, unknown>) => `${b.source}>${b.destination}:${b.routing_key}`;
    const bindings = (await get(`/api/bindings/${v}`))
      .filter((b) => b.source !== '')
      .map(key)
      .sort();
    assert.deepEqual(bindings, defs.bindings.map(key).sort());
    await w.close();
  } finally {
    await conn.close();
    await vhost.drop();
  }
});
