import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Buckets fixed by the platform contract; SLO rules and canary analysis rely on them. */
export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The contract's metrics, one registry per process (a fresh one per test).
 * HTTP metrics exist from the start; the messaging/cache/flag ones are created on first use
 * so a service only exposes what it really does. A service's own metrics (e.g. order-service's
 * `orders_created_total`) are made with `counter` / `gauge` in that service, not here.
 */
/** Buckets of event_delivery_seconds; 30 is the event-delivery SLO's bound. */
export const EVENT_DELIVERY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'method' | 'route' | 'status_code'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  private readonly lazy = new Map<string, Counter<string> | Gauge<string> | Histogram<string>>();

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

  private once<M extends Counter<string> | Gauge<string> | Histogram<string>>(
    name: string,
    make: () => M,
  ): M {
    let m = this.lazy.get(name);
    if (!m) {
      m = make();
      this.lazy.set(name, m);
    }
    return m as M;
  }

  /** The counter `name` of this registry, created on first use (same name → same counter). */
  counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
    return this.once(name, () => new Counter({ name, help, labelNames, registers: [this.registry] }));
  }

  /** The gauge `name` of this registry, created on first use. */
  gauge<L extends string>(name: string, help: string, labelNames: L[]): Gauge<L> {
    return this.once(name, () => new Gauge({ name, help, labelNames, registers: [this.registry] }));
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
  /**
   * Seconds from an event's `time` (set by its producer) to its handling by a consumer, per queue
   * and event type; the event-delivery SLO (monitoring/slo) counts the share within 30 s.
   */
  eventDelivery() {
    return this.once(
      'event_delivery_seconds',
      () =>
        new Histogram({
          name: 'event_delivery_seconds',
          help: 'Seconds from the event time to its handling by this consumer',
          labelNames: ['queue', 'event_type'],
          buckets: EVENT_DELIVERY_BUCKETS,
          registers: [this.registry],
        }),
    );
  }
  cacheRequests() {
    return this.counter('cache_requests_total', 'Cache lookups', ['cache', 'result']);
  }
  flagEvaluations() {
    return this.counter('feature_flag_evaluations_total', 'Feature flag evaluations', [
      'flag',
      'variant',
      'reason',
    ]);
  }
}
