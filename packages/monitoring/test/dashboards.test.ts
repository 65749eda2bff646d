// Dashboards as code: the checked-in JSON is what src/dashboards.ts generates, every panel query is
// valid PromQL for the real promtool, reads only metrics that are documented or recorded, and the
// dashboards the alerts link to exist.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '@mdp/platform/tools';
import { parse, stringify } from 'yaml';
import {
  DASHBOARDS,
  dashboardFile,
  dashboardQueries,
  PROMETHEUS,
  staleDashboards,
} from '../src/dashboards.js';
import { metricNames } from '../src/metric-names.js';
import { alertRules, recordingRules, run } from '../src/monitoring.js';

const dashboards = Object.keys(DASHBOARDS).map((name) => ({
  name,
  json: JSON.parse(readFileSync(dashboardFile(name), 'utf8')) as { uid: string; panels: unknown[] },
}));

test('the checked-in dashboards are what src/dashboards.ts generates (npm run dashboards:generate)', () => {
  assert.deepEqual(staleDashboards(), []);
  for (const n of ['service-map', 'deployment-metrics', 'sli-slo-dashboard', 'red-per-service'])
    assert.ok(DASHBOARDS[n], `${n}.json`);
});

/** Grafana's variables replaced by values so that promtool can parse the query. */
const concrete = (expr: string) =>
  expr
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$namespace', 'mdp-dev')
    .replaceAll('$app', 'api-gateway')
    .replaceAll('$rollout', 'order-service')
    .replaceAll('$slo', 'catalog-latency');

test('every panel query is valid PromQL (promtool check rules)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mdp-dashboards-'));
  try {
    const rules = dashboards.flatMap((d) =>
      dashboardQueries(d.json.panels).map((expr, i) => ({
        record: `dashboard:${d.name.replaceAll('-', '_')}:q${i}`,
        expr: concrete(expr),
      })),
    );
    assert.ok(rules.length >= 20, `queries: ${rules.length}`);
    writeFileSync(path.join(dir, 'queries.yaml'), stringify({ groups: [{ name: 'dashboards', rules }] }));
    const r = run('promtool', ['check', 'rules', 'queries.yaml'], dir);
    assert.equal(r.status, 0, r.output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('panel queries read documented or recorded metrics only', () => {
  const doc = readFileSync(path.join(repoRoot(), 'docs/metrics.md'), 'utf8');
  const recorded = new Set(recordingRules().map((r) => r.record));
  const read = new Set(
    dashboards.flatMap((d) => dashboardQueries(d.json.panels).flatMap((e) => metricNames(e))),
  );
  assert.deepEqual(
    [...read].filter((m) => !recorded.has(m) && !doc.includes(`\`${m}\``)),
    [],
  );
});

test('every dashboard an alert links to exists, and every datasource is the provisioned Prometheus', () => {
  const uids = new Set(dashboards.map((d) => d.json.uid));
  for (const a of alertRules()) {
    const uid = /\/d\/([^/]+)\//.exec(a.annotations?.dashboard_url ?? '')?.[1];
    assert.ok(uid && uids.has(uid), `${a.alert}: dashboard ${uid}`);
  }
  const provisioning = parse(
    readFileSync(path.join(repoRoot(), 'monitoring/dashboards/provisioning/datasources.yaml'), 'utf8'),
  ) as { datasources: { uid: string; type: string; jsonData?: Record<string, unknown> }[] };
  const byUid = new Map(provisioning.datasources.map((d) => [d.uid, d]));
  assert.equal(byUid.get(PROMETHEUS.uid)?.type, 'prometheus');
  const text = JSON.stringify(dashboards.map((d) => d.json));
  for (const m of text.matchAll(/"datasource":\{"type":"([^"]+)","uid":"([^"]+)"\}/g))
    assert.equal(byUid.get(m[2] as string)?.type, m[1], `datasource ${m[2]}`);
  // Trace <-> log links: Jaeger points to Loki, Loki's trace_id field points back to Jaeger.
  const jaeger = provisioning.datasources.find((d) => d.type === 'jaeger');
  const loki = provisioning.datasources.find((d) => d.type === 'loki');
  assert.ok(jaeger && loki);
  assert.equal((jaeger.jsonData?.tracesToLogsV2 as { datasourceUid?: string })?.datasourceUid, loki.uid);
  const derived = (loki.jsonData?.derivedFields as { datasourceUid?: string; matcherRegex?: string }[]) ?? [];
  assert.ok(derived.some((f) => f.datasourceUid === jaeger.uid && /trace_id/.test(f.matcherRegex ?? '')));
});
