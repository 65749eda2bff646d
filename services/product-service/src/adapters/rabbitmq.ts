import { bestEffortEvent } from '@mdp/contracts/events';
import { createAmqp } from '@mdp/platform/amqp';
import { EventPublisher } from '@mdp/platform/events';
import type { Closers } from '@mdp/platform/lifecycle';
import type { Logger } from '@mdp/platform/logger';
import type { Metrics } from '@mdp/platform/metrics';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { CatalogEvents, StockLowEvent } from '../domain/catalog.js';

/** RabbitMQ: publishes `product.stock_low` to `mdp.events`. */
export const connectRabbitMq = (url: string) => createAmqp(url, { name: 'product-service' });

/**
 * `product.stock_low`, best effort as the contract declares it: published with confirms after the
 * stock change committed, no outbox (the catalog store is MongoDB in production).
 */
export class BestEffortCatalogEvents implements CatalogEvents {
  readonly publisher: EventPublisher;
  constructor(conn: AmqpConnectionManager, deps: { logger: Logger; metrics: Metrics; lifecycle?: Closers }) {
    this.publisher = new EventPublisher(conn, { ...deps, timeoutMs: 5000 });
    deps.lifecycle?.on('consumers', 'event-publisher', () => this.close());
  }
  stockLow(event: StockLowEvent): Promise<void> {
    return this.publisher.publish(bestEffortEvent('product.stock_low', event));
  }
  close(): Promise<void> {
    return this.publisher.close();
  }
}
