/**
 * Raw metric series that drive each SLO's SLI (monitoring/slo/specs): `bad` = 1 makes every event
 * bad (5xx, slower than the bound, delivered late, database down), 0 makes every event good.
 * Keyed by Sloth's id `<service>-<slo>`. Label sets as the scrape produces them (contract).
 */
type Series = { series: string; values: string }[];

const NS = 'namespace="mdp-production"';
const counter = (perMinute: number) => `0+${perMinute}x20`;

function availability(route: string): (bad: number) => Series {
  return (bad) => [
    {
      series: `http_requests_total{app="api-gateway", ${NS}, method="GET", route="${route}", status_code="200"}`,
      values: counter(bad ? 0 : 60),
    },
    {
      series: `http_requests_total{app="api-gateway", ${NS}, method="GET", route="${route}", status_code="503"}`,
      values: counter(bad ? 60 : 0),
    },
  ];
}

function latency(route: string, le: string): (bad: number) => Series {
  const base = `app="api-gateway", ${NS}, method="GET", route="${route}", status_code="200"`;
  return (bad) => [
    { series: `http_request_duration_seconds_bucket{${base}, le="${le}"}`, values: counter(bad ? 0 : 60) },
    { series: `http_request_duration_seconds_bucket{${base}, le="+Inf"}`, values: counter(60) },
    { series: `http_request_duration_seconds_count{${base}}`, values: counter(60) },
  ];
}

export const SLI_INPUTS: Record<string, (bad: number) => Series> = {
  'auth-availability': availability('/api/auth/*'),
  'auth-latency': latency('/api/auth/*', '1'),
  'catalog-availability': availability('/api/products/*'),
  'catalog-latency': latency('/api/products', '0.25'),
  'orders-availability': availability('/api/orders'),
  'orders-latency': latency('/api/orders/*', '0.5'),
  'notifications-availability': availability('/api/notifications'),
  'events-order-created-delivery': (bad) => {
    const base = `app="notification-service", ${NS}, queue="notification-service.events", event_type="order.created"`;
    return [
      { series: `event_delivery_seconds_bucket{${base}, le="30"}`, values: counter(bad ? 0 : 10) },
      { series: `event_delivery_seconds_bucket{${base}, le="+Inf"}`, values: counter(10) },
      { series: `event_delivery_seconds_count{${base}}`, values: counter(10) },
    ];
  },
  'databases-postgresql-uptime': (bad) => [
    { series: `pg_up{${NS}, pod="postgresql-0"}`, values: `${bad ? 0 : 1}x20` },
  ],
  'databases-mongodb-uptime': (bad) => [
    { series: `mongodb_up{${NS}, pod="mongodb-0"}`, values: `${bad ? 0 : 1}x20` },
  ],
};
