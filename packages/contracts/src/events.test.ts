import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sampleData, sampleEvent } from '../test/samples.js';
import {
  type AnyEvent,
  bestEffortEvent,
  CONSUMERS,
  createEvent,
  EVENT_TYPES,
  EVENTS,
  InvalidEventError,
  outboxEvent,
  parseEvent,
} from './events.js';

/** What a message body looks like after the broker: the event as JSON. */
const wire = (e: unknown) => JSON.parse(JSON.stringify(e)) as unknown;

describe('events of the contract', () => {
  test('the contract has exactly the platform event types, each published by its named source', () => {
    assert.deepEqual(EVENT_TYPES, [
      'user.registered',
      'order.created',
      'order.cancelled',
      'product.stock_low',
    ]);
    assert.deepEqual(
      Object.fromEntries(EVENT_TYPES.map((t) => [t, `${EVENTS[t].source}/${EVENTS[t].delivery}`])),
      {
        'user.registered': 'user-service/outbox',
        'order.created': 'order-service/outbox',
        'order.cancelled': 'order-service/outbox',
        'product.stock_low': 'product-service/best-effort',
      },
    );
    assert.deepEqual([...CONSUMERS['notification-service'].events], EVENT_TYPES);
  });

  test('a constructed event is a CloudEvents envelope from the contract source, and parses back', () => {
    for (const type of EVENT_TYPES) {
      const e = createEvent(type, sampleData[type]() as never);
      assert.equal(e.specversion, '1.0');
      assert.match(e.id, /^[0-9a-f-]{36}$/);
      assert.equal(e.source, EVENTS[type].source);
      assert.ok(!Number.isNaN(Date.parse(e.time)));
      assert.deepEqual(parseEvent(wire(e)), wire(e));
    }
    assert.equal(outboxEvent('order.created', sampleData['order.created']()).type, 'order.created');
    assert.equal(
      bestEffortEvent('product.stock_low', sampleData['product.stock_low']()).source,
      'product-service',
    );
  });

  test('parseEvent narrows on the type (a discriminated union)', () => {
    const e: AnyEvent = parseEvent(wire(sampleEvent('order.created', { userId: 'u-1' })));
    assert.equal(e.type === 'order.created' ? e.data.userId : undefined, 'u-1');
  });

  test('a message that breaks the contract is refused with the reason', () => {
    const reason = (body: unknown) => {
      try {
        parseEvent(body);
        return 'accepted';
      } catch (err) {
        assert.ok(err instanceof InvalidEventError);
        return err.reason;
      }
    };
    const created = wire(sampleEvent('order.created')) as { data: Record<string, unknown> };
    const { userId: _u, ...noUser } = created.data;
    assert.match(reason({ ...created, data: noUser }), /^order\.created: \/data\/userId: /);
    assert.match(
      reason({ ...created, data: { ...created.data, total: { amount: 19.99, currency: 'EUR' } } }),
      /^order\.created: \/data\/total\/amount: /,
      'money is an integer of minor units',
    );
    assert.match(reason({ ...created, type: 'order.shipped' }), /^unknown event type "order\.shipped"/);
    assert.match(reason({ hello: 'world' }), /^not an event envelope: /);
    assert.match(reason({ ...created, data: 'x' }), /^not an event envelope: \/data/);
    assert.match(reason(null), /^not an event envelope/);
    const registered = wire(sampleEvent('user.registered')) as { data: Record<string, unknown> };
    assert.match(reason({ ...registered, data: { ...registered.data, userId: '' } }), /\/data\/userId/);
    // Extra fields are tolerated: a producer may add one before its consumers read it.
    assert.equal(reason({ ...registered, data: { ...registered.data, locale: 'de' } }), 'accepted');
  });

  test('an event from another source than the contract names is refused', () => {
    const created = wire(sampleEvent('order.created')) as Record<string, unknown>;
    assert.equal(created.source, 'order-service');
    assert.doesNotThrow(() => parseEvent(created));
    for (const source of ['user-service', 'product-service', 'attacker', 'order-service '])
      assert.throws(
        () => parseEvent({ ...created, source }),
        (err: unknown) =>
          err instanceof InvalidEventError &&
          err.reason ===
            `order.created from ${JSON.stringify(source)}: the contract's source is order-service`,
        source,
      );
  });
});
