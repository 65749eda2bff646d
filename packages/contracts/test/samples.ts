/** Valid events of every type for tests (each field overridable). */
import { randomUUID } from 'node:crypto';
import { createEvent, type EventData, type EventType } from '../src/events.js';

const line = { productId: randomUUID(), sku: 'MUG-1', name: 'Mug', quantity: 1 };

export const sampleData: { [T in EventType]: () => EventData<T> } = {
  'user.registered': () => ({ userId: randomUUID(), email: 'alice@example.com', name: 'Alice' }),
  'order.created': () => ({
    orderId: randomUUID(),
    userId: randomUUID(),
    status: 'confirmed',
    items: [
      { ...line, unitPrice: { amount: 1999, currency: 'EUR' }, lineTotal: { amount: 1999, currency: 'EUR' } },
    ],
    total: { amount: 1999, currency: 'EUR' },
    createdAt: new Date().toISOString(),
  }),
  'order.cancelled': () => ({
    orderId: randomUUID(),
    userId: randomUUID(),
    items: [{ productId: line.productId, quantity: 1 }],
    total: { amount: 1999, currency: 'EUR' },
    cancelledAt: new Date().toISOString(),
  }),
  'product.stock_low': () => ({ productId: randomUUID(), sku: 'MUG-1', name: 'Mug', stock: 2, threshold: 5 }),
};

/** A valid event of `type`, its data merged with `over`. */
export function sampleEvent<T extends EventType>(type: T, over: Partial<EventData<T>> = {}) {
  return createEvent(type, { ...sampleData[type](), ...over } as EventData<T>);
}
