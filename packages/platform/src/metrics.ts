import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Buckets fixed by the platform contract; SLO rules and canary analysis rely on them. */
export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The contract's metrics, one registry per process (a fresh one per test).
 * HTTP metrics exist from the start; the messaging/cache/flag ones are created on first use
 * so a service only exposes what it really does.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'method' | 'route' | 'status_code'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  private readonly lazy = new Map<string, Counter<string> | Gauge<string>>();

  constructor(info: { version: string; commit: string }, opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.httpRequests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests handled, by route pattern',
      labelNames: ['method', 'route', 'status_code'],
      registers: [this.registry],
    });
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration in seconds, by route pattern',
      labelNames: ['method', 'route', 'status_code'],
      buckets: HTTP_DURATION_BUCKETS,
      registers: [this.registry],
    });
    new Gauge({
      name: 'app_build_info',
      help: 'Build information; always 1',
      labelNames: ['version', 'commit'],
      registers: [this.registry],
    }).set({ version: info.version, commit: info.commit }, 1);
  }

  private counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
    let m = this.lazy.get(name);
    if (!m) {
      m = new Counter({ name, help, labelNames, registers: [this.registry] });
      this.lazy.set(name, m);
    }
    return m as Counter<L>;
  }

  private gauge<L extends string>(name: string, help: string, labelNames: L[]): Gauge<L> {
    let m = this.lazy.get(name);
    if (!m) {
      m = new Gauge({ name, help, labelNames, registers: [this.registry] });
      this.lazy.set(name, m);
    }
    return m as Gauge<L>;
  }

  messagesPublished() {
    return this.counter('messages_published_total', 'Messages published to RabbitMQ', [
      'exchange',
      'routing_key',
      'outcome',
    ]);
  }
  messagesConsumed() {
    return this.counter('messages_consumed_total', 'Messages consumed from RabbitMQ', ['queue', 'outcome']);
  }
  outboxPending() {
    return this.gauge('outbox_pending_events', 'Outbox events not yet published', []);
  }
  cacheRequests() {
    return this.counter('cache_requests_total', 'Cache lookups', ['cache', 'result']);
  }
  flagEvaluations() {
    return this.counter('feature_flag_evaluations_total', 'Feature flag evaluations', ['flag', 'variant']);
  }
  ordersCreated() {
    return this.counter('orders_created_total', 'Orders created', ['outcome']);
  }
  notificationsSent() {
    return this.counter('notifications_sent_total', 'Notifications sent', ['channel', 'outcome']);
  }
}
