/**
 * The notification plan and the Notifier on in-memory fakes (test/fakes.ts): what each event of
 * the contract means for whom, per-channel delivery, idempotency, retries. No datastore.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sampleEvent } from '@mdp/contracts/testing';
import { FakeNotificationStore, FakeSender } from '../../test/fakes.js';
import { type Channel, Notifier, OPS_RECIPIENT, plan } from './notifications.js';

describe('the notification plan', () => {
  test('every event of the contract notifies its recipient with its own message', () => {
    assert.deepEqual(plan(sampleEvent('user.registered', { userId: 'u1', name: 'Alice' })), {
      userId: 'u1',
      type: 'welcome',
      message: 'Welcome to the shop, Alice!',
    });
    assert.deepEqual(
      plan(
        sampleEvent('order.created', {
          userId: 'u1',
          orderId: 'o-1',
          total: { amount: 5998, currency: 'EUR' },
        }),
      ),
      { userId: 'u1', type: 'order_confirmation', message: 'Your order o-1 is confirmed (59.98 EUR).' },
    );
    assert.deepEqual(plan(sampleEvent('order.cancelled', { userId: 'u2', orderId: 'o-2' })), {
      userId: 'u2',
      type: 'order_cancellation',
      message: 'Your order o-2 was cancelled.',
    });
    assert.deepEqual(plan(sampleEvent('product.stock_low', { name: 'Mug', sku: 'MUG-1', stock: 2 })), {
      userId: OPS_RECIPIENT,
      type: 'stock_low',
      message: 'Stock low: Mug (MUG-1) has 2 left.',
    });
  });
});

describe('the Notifier', () => {
  function setup(enabled: Channel[] = ['webhook', 'slack']) {
    const store = new FakeNotificationStore();
    const senders = {
      log: new FakeSender('log'),
      webhook: new FakeSender('webhook'),
      slack: new FakeSender('slack'),
    };
    const outcomes: string[] = [];
    const notifier = new Notifier({
      store,
      senders: Object.values(senders),
      enabledChannels: async () => enabled,
      onSent: (channel, outcome) => outcomes.push(`${channel}:${outcome}`),
    });
    return { store, senders, outcomes, notifier };
  }

  test('one notification per enabled channel (log always); a redelivery is a duplicate', async () => {
    const { store, senders, notifier, outcomes } = setup();
    const e = sampleEvent('order.created');
    assert.equal(await notifier.handle(e, { final: false }), 'done');
    assert.deepEqual(
      store.rows.map((r) => [r.channel, r.status]),
      [
        ['log', 'sent'],
        ['webhook', 'sent'],
        ['slack', 'sent'],
      ],
    );
    assert.equal(await notifier.handle(e, { final: false }), 'duplicate');
    assert.equal(senders.webhook.sent.length, 1);
    assert.deepEqual(outcomes.sort(), ['log:sent', 'slack:sent', 'webhook:sent']);
  });

  test('channels switched off by their flag are not used', async () => {
    const { store, notifier } = setup([]);
    await notifier.handle(sampleEvent('user.registered'), { final: false });
    assert.deepEqual(
      store.rows.map((r) => r.channel),
      ['log'],
    );
  });

  test('a failing channel fails the handling (so it is retried) and only that channel is resent', async () => {
    const { store, senders, notifier } = setup();
    const e = sampleEvent('order.cancelled');
    senders.webhook.failing = 'webhook answered 503';
    await assert.rejects(notifier.handle(e, { final: false }), /webhook: webhook answered 503/);
    assert.ok(!store.processed.has(e.id));
    senders.webhook.failing = undefined;
    assert.equal(await notifier.handle(e, { final: false }), 'done');
    assert.equal(senders.log.sent.length, 1, 'the log channel went out once');
    assert.equal(senders.webhook.sent.length, 1);
    assert.deepEqual(
      store.rows.map((r) => [r.channel, r.attempts]),
      [
        ['log', 1],
        ['webhook', 2],
        ['slack', 1],
      ],
    );
  });

  test('on the final attempt a failing channel is marked failed', async () => {
    const { store, senders, notifier } = setup();
    senders.slack.failing = 'slack down';
    await assert.rejects(notifier.handle(sampleEvent('order.created'), { final: true }));
    assert.equal(store.rows.find((r) => r.channel === 'slack')?.status, 'failed');
  });
});
