/**
 * The events of the platform (RabbitMQ, exchange `mdp.events`, routing key = event type): the
 * payload schema of each type, who publishes it and how it travels. Producers build events with
 * `createEvent` (the payload is typed by the event type); the consumer checks each message with
 * `parseEvent` against the same schemas and gets a union discriminated by `type`.
 */
import { randomUUID } from 'node:crypto';
import { type Static, type TObject, Type } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { Id, Money } from './common.js';

const NonEmpty = Type.String({ minLength: 1 });
/** An ISO 8601 timestamp as `Date.prototype.toISOString` writes it. */
const Timestamp = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$',
});

export const UserRegistered = Type.Object({ userId: NonEmpty, email: NonEmpty, name: NonEmpty });

export const OrderLine = Type.Object({
  productId: Id,
  sku: Type.String(),
  name: Type.String(),
  quantity: Type.Integer({ minimum: 1 }),
  unitPrice: Money,
  lineTotal: Money,
});

export const OrderCreated = Type.Object({
  orderId: Id,
  userId: NonEmpty,
  status: Type.Union([Type.Literal('pending'), Type.Literal('confirmed')]),
  items: Type.Array(OrderLine, { minItems: 1 }),
  total: Money,
  createdAt: Timestamp,
});

export const OrderCancelled = Type.Object({
  orderId: Id,
  userId: NonEmpty,
  items: Type.Array(Type.Object({ productId: Id, quantity: Type.Integer({ minimum: 1 }) })),
  total: Money,
  cancelledAt: Timestamp,
});

export const ProductStockLow = Type.Object({
  productId: Id,
  sku: Type.String(),
  name: Type.String(),
  stock: Type.Integer({ minimum: 0 }),
  threshold: Type.Integer({ minimum: 0 }),
});

/**
 * How an event leaves its producer:
 * - `outbox`: written in the same transaction as the state change, relayed with publisher
 *   confirms (at least once; never lost once the change committed);
 * - `best-effort`: published with confirms after the change committed; lost if the broker is
 *   away at that moment. `product.stock_low` is one: it is a restock alert re-raised by the next
 *   crossing of the threshold, the catalog's production store is MongoDB (the platform's outbox is
 *   PostgreSQL), and a lost alert costs a late restock, not money or an order.
 */
export type Delivery = 'outbox' | 'best-effort';

/** Every event type: its payload, its producer, its delivery. Payloads may grow fields (consumers ignore unknown ones). */
export const EVENTS = {
  'user.registered': { data: UserRegistered, source: 'user-service', delivery: 'outbox' },
  'order.created': { data: OrderCreated, source: 'order-service', delivery: 'outbox' },
  'order.cancelled': { data: OrderCancelled, source: 'order-service', delivery: 'outbox' },
  'product.stock_low': { data: ProductStockLow, source: 'product-service', delivery: 'best-effort' },
} as const satisfies Record<string, { data: TObject; source: string; delivery: Delivery }>;

export type EventType = keyof typeof EVENTS;
export const EVENT_TYPES = Object.keys(EVENTS) as EventType[];
export type EventData<T extends EventType> = Static<(typeof EVENTS)[T]['data']>;
/** The types that must go through a transactional outbox. */
export type OutboxEventType = {
  [T in EventType]: (typeof EVENTS)[T]['delivery'] extends 'outbox' ? T : never;
}[EventType];
/** The types published best effort (no outbox). */
export type BestEffortEventType = Exclude<EventType, OutboxEventType>;

/** The message body: CloudEvents 1.0 field names. */
export interface Envelope<T extends EventType = EventType> {
  specversion: '1.0';
  id: string;
  type: T;
  source: string;
  time: string;
  data: EventData<T>;
}

/** Any event of the contract; `switch (event.type)` narrows `event.data`. */
export type AnyEvent = { [T in EventType]: Envelope<T> }[EventType];

/** A new event of `type`: a fresh UUID, now, and the producer the contract names as its source. */
export function createEvent<T extends EventType>(type: T, data: EventData<T>): Envelope<T> {
  return {
    specversion: '1.0',
    id: randomUUID(),
    type,
    source: EVENTS[type].source,
    time: new Date().toISOString(),
    data,
  };
}

/** A producer's event that must go through its transactional outbox (`enqueueEvent` in the transaction). */
export const outboxEvent = <T extends OutboxEventType>(type: T, data: EventData<T>) =>
  createEvent(type, data);

/** A producer's event published best effort (after its change committed; see `Delivery`). */
export const bestEffortEvent = <T extends BestEffortEventType>(type: T, data: EventData<T>) =>
  createEvent(type, data);

const EnvelopeSchema = Type.Object({
  specversion: Type.Optional(Type.Literal('1.0')),
  id: NonEmpty,
  type: NonEmpty,
  source: NonEmpty,
  time: Type.String(),
  data: Type.Object({}),
});
const envelope = TypeCompiler.Compile(EnvelopeSchema);
const payloads = new Map<string, TypeCheck<TObject>>(
  EVENT_TYPES.map((t) => [t, TypeCompiler.Compile<TObject>(EVENTS[t].data)]),
);

/** A message that is not an event of the contract; `reason` says why (it travels with it to the DLQ). */
export class InvalidEventError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'InvalidEventError';
  }
}

function firstError(check: TypeCheck<TObject>, value: unknown, at: string): string {
  const e = check.Errors(value).First();
  return e ? `${at}${e.path || '/'}: ${e.message}` : `${at}: invalid`;
}

/** Checks a parsed message body against the contract; throws InvalidEventError naming the first problem. */
export function parseEvent(body: unknown): AnyEvent {
  if (!envelope.Check(body))
    throw new InvalidEventError(`not an event envelope: ${firstError(envelope, body, '')}`);
  const type = body.type;
  const check = payloads.get(type);
  if (!check) throw new InvalidEventError(`unknown event type ${JSON.stringify(type)}`);
  // Only the producer the contract names may emit a type (issue 15): an event of another source
  // (a service publishing what is not its own, or a forged message) is refused.
  const source = EVENTS[type as EventType].source;
  if (body.source !== source)
    throw new InvalidEventError(
      `${type} from ${JSON.stringify(body.source)}: the contract's source is ${source}`,
    );
  if (!check.Check(body.data))
    throw new InvalidEventError(`${type}: ${firstError(check, body.data, '/data')}`);
  return body as unknown as AnyEvent;
}

/**
 * Who consumes what: each consuming service's queue, the event types bound to it, and the delay
 * before each retry (the TTLs of its retry queues; databases/rabbitmq/definitions.json declares
 * the same queues, and RabbitMQ refuses a declaration whose arguments differ).
 */
export const CONSUMERS = {
  'notification-service': {
    queue: 'notification-service.events',
    events: EVENT_TYPES,
    retryDelaysMs: [1000, 5000, 15_000],
  },
} as const satisfies Record<
  string,
  { queue: string; events: readonly EventType[]; retryDelaysMs: readonly number[] }
>;
