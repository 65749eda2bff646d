import { createAmqp } from '@mdp/platform/amqp';
import { createEvent, EventPublisher } from '@mdp/platform/events';
import type { Logger } from '@mdp/platform/logger';
import type { Metrics } from '@mdp/platform/metrics';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { CatalogEvents, StockLowEvent } from '../domain/catalog.js';

/** RabbitMQ: publishes `product.stock_low` to `mdp.events`. */
export const connectRabbitMq = (url: string) => createAmqp(url, { name: 'product-service' });

/** `product.stock_low` with publisher confirms (best effort: no outbox in the catalog store). */
export class RabbitCatalogEvents implements CatalogEvents {
  readonly publisher: EventPublisher;
  constructor(conn: AmqpConnectionManager, deps: { logger: Logger; metrics: Metrics }) {
    this.publisher = new EventPublisher(conn, { ...deps, timeoutMs: 5000 });
  }
  stockLow(event: StockLowEvent): Promise<void> {
    return this.publisher.publish(createEvent('product.stock_low', 'product-service', event));
  }
  close(): Promise<void> {
    return this.publisher.close();
  }
}
