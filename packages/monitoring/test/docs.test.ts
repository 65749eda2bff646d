// docs/metrics.md lists every metric the rules read; every recorded name a rule reads is recorded here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '@mdp/platform/tools';
import { metricNames, nameRegexes } from '../src/metric-names.js';
import { recordingRules, ruleFiles } from '../src/monitoring.js';

test('docs/metrics.md lists every metric the rules read', () => {
  const files = ruleFiles();
  const doc = readFileSync(path.join(repoRoot(), 'docs/metrics.md'), 'utf8');
  const recorded = new Set(recordingRules(files).map((r) => r.record));
  const exprs = files.flatMap((f) => f.groups.flatMap((g) => g.rules.map((r) => r.expr)));
  const read = new Set(exprs.flatMap(metricNames));
  assert.ok(read.has('http_requests_total') && read.has('rollout_info'), [...read].join(' '));
  const missing = [...read].filter((m) => !recorded.has(m) && !doc.includes(`\`${m}\``));
  assert.deepEqual(missing, [], 'metrics read by rules but not in docs/metrics.md');
  const unrecorded = [...read].filter((m) => m.includes(':') && !recorded.has(m));
  assert.deepEqual(unrecorded, [], 'recorded names read but recorded nowhere');
  for (const re of exprs.flatMap(nameRegexes))
    assert.ok(doc.includes(`\`${re}\``), `docs/metrics.md lacks \`${re}\``);
});

test('the metric-name lexer: functions, labels, strings and keywords are not metrics', () => {
  assert.deepEqual(
    metricNames(
      'sum by (namespace, app) (rate(http_requests_total{route!~"/healthz"}[5m])) / on (app) group_left (team) mdp:app_team:info > 0.05 and time() - x_seconds < 14 * 86400',
    ),
    ['http_requests_total', 'mdp:app_team:info', 'x_seconds'],
  );
});
