/**
 * Dashboards as code (@grafana/grafana-foundation-sdk): service-map, deployment-metrics,
 * sli-slo-dashboard and red-per-service, generated into monitoring/dashboards/<name>.json by
 * `npm run dashboards:generate` (checked in; a test fails when they are stale). Their uids are the
 * ones the alerts' dashboard_url annotations link to.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import {
  DashboardBuilder,
  QueryVariableBuilder,
  RowBuilder,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as NodeGraphPanel } from '@grafana/grafana-foundation-sdk/nodegraph';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { root } from './monitoring.js';

/** The Prometheus datasource of monitoring/dashboards/provisioning/datasources.yaml. */
export const PROMETHEUS = { type: 'prometheus', uid: 'mdp-prometheus' };

const q = (expr: string, legend = '', refId = 'A') =>
  new DataqueryBuilder().datasource(PROMETHEUS).expr(expr).legendFormat(legend).refId(refId);
const instantTable = (expr: string, refId: string) =>
  new DataqueryBuilder()
    .datasource(PROMETHEUS)
    .expr(expr)
    .instant()
    .format(PromQueryFormat.Table)
    .refId(refId);

const variable = (name: string, query: string, label: string) =>
  new QueryVariableBuilder(name)
    .label(label)
    .datasource(PROMETHEUS)
    .query({ query, refId: `${name}-var` })
    .definition(query)
    .refresh(2);

const namespaceVar = () => variable('namespace', 'label_values(up, namespace)', 'Namespace');

const series = (title: string, unit: string, targets: cog.Builder<cog.Dataquery>[], w = 12) => {
  const p = new TimeseriesPanel().title(title).unit(unit).datasource(PROMETHEUS).height(8).span(w);
  for (const t of targets) p.withTarget(t);
  return p;
};

function redPerService() {
  const sel = 'namespace="$namespace", app="$app"';
  return new DashboardBuilder('MDP / RED per service')
    .uid('mdp-red')
    .tags(['mdp', 'red'])
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .withVariable(namespaceVar())
    .withVariable(
      variable('app', 'label_values(app:http_requests:rate5m{namespace="$namespace"}, app)', 'Service'),
    )
    .withRow(new RowBuilder('Rate, errors, duration'))
    .withPanel(series('Requests / s', 'reqps', [q(`app:http_requests:rate5m{${sel}}`, '{{app}}')]))
    .withPanel(
      series('5xx ratio', 'percentunit', [q(`app:http_requests_error_ratio:rate5m{${sel}}`, '{{app}}')]),
    )
    .withPanel(
      series('Duration', 's', [
        q(`app:http_request_duration_seconds:p50_5m{${sel}}`, 'p50', 'A'),
        q(`app:http_request_duration_seconds:p95_5m{${sel}}`, 'p95', 'B'),
        q(`app:http_request_duration_seconds:p99_5m{${sel}}`, 'p99', 'C'),
      ]),
    )
    .withPanel(
      series('Requests / s by route', 'reqps', [
        q(`app_route:http_requests:rate5m{${sel}}`, '{{method}} {{route}}'),
      ]),
    )
    .withPanel(
      series('5xx / s by route', 'reqps', [
        q(`app_route:http_requests_errors:rate5m{${sel}}`, '{{method}} {{route}}'),
      ]),
    )
    .withPanel(
      series('p99 by route', 's', [
        q(`app_route:http_request_duration_seconds:p99_5m{${sel}}`, '{{method}} {{route}}'),
      ]),
    )
    .withRow(new RowBuilder('Saturation'))
    .withPanel(series('Event-loop lag p99', 's', [q(`nodejs_eventloop_lag_p99_seconds{${sel}}`, '{{pod}}')]))
    .withPanel(series('Resident memory', 'bytes', [q(`process_resident_memory_bytes{${sel}}`, '{{pod}}')]))
    .withRow(new RowBuilder('Messaging'))
    .withPanel(
      series('Published / s', 'ops', [
        q(`app:messages_published:rate5m{${sel}}`, '{{routing_key}} {{outcome}}'),
      ]),
    )
    .withPanel(
      series('Consumed / s', 'ops', [q(`app:messages_consumed:rate5m{${sel}}`, '{{queue}} {{outcome}}')]),
    )
    .withPanel(series('Outbox pending', 'short', [q(`app:outbox_pending_events:max{${sel}}`, '{{app}}')]))
    .build();
}

function serviceMap() {
  // Nodes: the services with their request rate; edges: caller -> callee from the collector's
  // servicegraph connector (traces_service_graph_request_total{client, server}).
  const nodes = instantTable(
    'label_replace(sum by (app) (app:http_requests:rate5m{namespace="$namespace"}), "id", "$1", "app", "(.*)")',
    'nodes',
  );
  const edges = instantTable(
    'label_join(sum by (client, server) (rate(traces_service_graph_request_total[5m])), "id", "->", "client", "server")',
    'edges',
  );
  const graph = new NodeGraphPanel()
    .title('Service map')
    .datasource(PROMETHEUS)
    .height(16)
    .span(24)
    .withTarget(nodes)
    .withTarget(edges)
    .withTransformation({
      id: 'organize',
      options: {
        renameByName: {
          app: 'title',
          'Value #nodes': 'mainstat',
          client: 'source',
          server: 'target',
          'Value #edges': 'mainstat',
        },
        excludeByName: { Time: true },
      },
    });
  return new DashboardBuilder('MDP / Service map')
    .uid('mdp-service-map')
    .tags(['mdp', 'service-map'])
    .refresh('30s')
    .time({ from: 'now-15m', to: 'now' })
    .withVariable(namespaceVar())
    .withPanel(graph)
    .withPanel(
      series('Calls / s per edge', 'reqps', [
        q(
          'sum by (client, server) (rate(traces_service_graph_request_total[5m]))',
          '{{client}} -> {{server}}',
        ),
      ]),
    )
    .withPanel(
      series('Failed calls / s per edge', 'reqps', [
        q(
          'sum by (client, server) (rate(traces_service_graph_request_failed_total[5m]))',
          '{{client}} -> {{server}}',
        ),
      ]),
    )
    .withPanel(
      series('Events published / s', 'ops', [
        q(
          'sum by (app, routing_key) (app:messages_published:rate5m{namespace="$namespace"})',
          '{{app}} {{routing_key}}',
        ),
      ]),
    )
    .withPanel(
      series('Events consumed / s', 'ops', [
        q(
          'sum by (app, queue, outcome) (app:messages_consumed:rate5m{namespace="$namespace"})',
          '{{queue}} {{outcome}}',
        ),
      ]),
    )
    .build();
}

function deploymentMetrics() {
  const ns = 'namespace="$namespace"';
  return new DashboardBuilder('MDP / Deployment metrics')
    .uid('mdp-deployment')
    .tags(['mdp', 'deployment'])
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .withVariable(namespaceVar())
    .withVariable(variable('rollout', `label_values(rollout_info{${ns}}, name)`, 'Rollout'))
    .withPanel(
      new TablePanel()
        .title('Rollout phase')
        .datasource(PROMETHEUS)
        .height(6)
        .span(12)
        .withTarget(
          instantTable(`max by (name, strategy, phase) (rollout_info{${ns}, name=~"$rollout"})`, 'A'),
        ),
    )
    .withPanel(
      new StatPanel()
        .title('Unavailable replicas')
        .datasource(PROMETHEUS)
        .height(6)
        .span(12)
        .withTarget(
          q(`sum by (name) (rollout_info_replicas_unavailable{${ns}, name=~"$rollout"})`, '{{name}}'),
        ),
    )
    .withPanel(
      series('Success rate: stable vs canary (by pod template hash)', 'percentunit', [
        q(
          `1 - (sum by (rollouts_pod_template_hash) (rate(http_requests_total{${ns}, app=~"$rollout", status_code=~"5.."}[5m])) / sum by (rollouts_pod_template_hash) (rate(http_requests_total{${ns}, app=~"$rollout"}[5m])))`,
          '{{rollouts_pod_template_hash}}',
        ),
      ]),
    )
    .withPanel(
      series('p99 latency: stable vs canary', 's', [
        q(
          `histogram_quantile(0.99, sum by (rollouts_pod_template_hash, le) (rate(http_request_duration_seconds_bucket{${ns}, app=~"$rollout"}[5m])))`,
          '{{rollouts_pod_template_hash}}',
        ),
      ]),
    )
    .withPanel(
      series('Pods per version', 'short', [
        q(`count by (version) (app_build_info{${ns}, app=~"$rollout"})`, '{{version}}'),
      ]),
    )
    .withPanel(
      series('Deployments and rollbacks (rollout events)', 'short', [
        q(
          `sum by (name, reason) (increase(rollout_events_total{${ns}, name=~"$rollout"}[1h]))`,
          '{{name}} {{reason}}',
        ),
      ]),
    )
    .build();
}

function sliSlo() {
  const id = 'sloth_id=~"$slo"';
  return new DashboardBuilder('MDP / SLIs and SLOs')
    .uid('mdp-sli-slo')
    .tags(['mdp', 'slo'])
    .refresh('1m')
    .time({ from: 'now-7d', to: 'now' })
    .withVariable(
      variable('slo', 'label_values(slo:objective:ratio, sloth_id)', 'SLO').multi(true).includeAll(true),
    )
    .withPanel(
      new TablePanel()
        .title('Objectives')
        .datasource(PROMETHEUS)
        .height(8)
        .span(24)
        .withTarget(instantTable(`max by (sloth_id) (slo:objective:ratio{${id}})`, 'A')),
    )
    .withPanel(
      series('SLI: error ratio (5m)', 'percentunit', [
        q(`slo:sli_error:ratio_rate5m{${id}}`, '{{sloth_id}}'),
      ]),
    )
    .withPanel(
      series('Error budget left (30 d)', 'percentunit', [
        q(`slo:period_error_budget_remaining:ratio{${id}}`, '{{sloth_id}}'),
      ]),
    )
    .withPanel(series('Burn rate (now)', 'short', [q(`slo:current_burn_rate:ratio{${id}}`, '{{sloth_id}}')]))
    .withPanel(series('Burn rate (30 d)', 'short', [q(`slo:period_burn_rate:ratio{${id}}`, '{{sloth_id}}')]))
    .build();
}

export const DASHBOARDS: Record<string, () => unknown> = {
  'red-per-service': redPerService,
  'service-map': serviceMap,
  'deployment-metrics': deploymentMetrics,
  'sli-slo-dashboard': sliSlo,
};

export const dashboardFile = (name: string): string => path.join(root(), 'dashboards', `${name}.json`);
export const render = (name: string): string =>
  `${JSON.stringify((DASHBOARDS[name] as () => unknown)(), null, 2)}\n`;

export function staleDashboards(): string[] {
  return Object.keys(DASHBOARDS).filter((n) => {
    try {
      return readFileSync(dashboardFile(n), 'utf8') !== render(n);
    } catch {
      return true;
    }
  });
}

export function writeDashboards(): string[] {
  return Object.keys(DASHBOARDS).map((n) => {
    writeFileSync(dashboardFile(n), render(n));
    return dashboardFile(n);
  });
}

/** Every Prometheus query of a generated dashboard (panel targets and variables). */
export function dashboardQueries(json: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.expr === 'string') out.push(o.expr);
      for (const x of Object.values(o)) walk(x);
    }
  };
  walk(json);
  return out;
}
