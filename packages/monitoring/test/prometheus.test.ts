// The rule files of monitoring/ run by the real promtool: every file passes `promtool check rules`,
// every alert has promtool cases where it fires and where it stays silent just below its
// condition, and every alert carries what the on-call needs (severity, team, summary,
// description, a runbook that exists, a dashboard).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot } from '@mdp/platform/tools';
import { stringify } from 'yaml';
import {
  alertCases,
  alertRules,
  checkRules,
  promtoolTestFiles,
  readTest,
  recordingRules,
  ruleFiles,
  stageRules,
  testRules,
} from '../src/monitoring.js';
import { sloPromtoolTests } from '../src/slo-tests.js';

const RUNBOOK_BASE =
  'https://github.com/mdp-example/microservices-deployment-pipeline/blob/main/docs/runbooks/';
const TEAMS = ['storefront', 'identity', 'orders', 'platform'];

describe('Prometheus rules (promtool)', () => {
  const files = ruleFiles();
  let staged: ReturnType<typeof stageRules>;
  before(() => {
    staged = stageRules(files);
  });
  after(() => staged.cleanup());

  test('every PrometheusRule file passes promtool check rules', () => {
    assert.ok(files.length >= 3, `rule files found: ${files.map((f) => f.file).join(', ')}`);
    const r = checkRules(staged.dir, files);
    assert.equal(r.status, 0, r.output);
    for (const f of files) assert.match(r.output, new RegExp(`Checking ${f.name}\\s+SUCCESS`), r.output);
  });

  test('a broken expression fails promtool check rules (the check can fail)', () => {
    const bad = {
      ...files[0],
      name: 'broken.yaml',
      groups: [{ name: 'x', rules: [{ alert: 'X', expr: 'sum(rate(up[5m])' }] }],
    };
    writeFileSync(path.join(staged.dir, bad.name), stringify({ groups: bad.groups }));
    const r = checkRules(staged.dir, [bad as (typeof files)[number]]);
    assert.equal(r.status, 1, r.output);
  });

  test('promtool test rules: every hand-written and generated case passes', () => {
    const tests = [...promtoolTestFiles().map(readTest), ...sloPromtoolTests(files)];
    const r = testRules(staged.dir, tests);
    assert.equal(r.status, 0, r.output);
  });

  test('a threshold moved below a silent case makes promtool test rules fail (the cases can fail)', () => {
    // ServiceHighErrorRate's silent case is 4% 5xx: at a 3% threshold it fires and the test breaks.
    const services = files.find((f) => f.name === 'alerts-services.yaml');
    assert.ok(services);
    const moved = structuredClone(services);
    for (const g of moved.groups)
      for (const r of g.rules)
        if (r.alert === 'ServiceHighErrorRate') r.expr = r.expr.replace('> 0.05', '> 0.03');
    const dir = stageRules(files.map((f) => (f.name === moved.name ? moved : f)));
    try {
      const r = testRules(dir.dir, [
        readTest(path.join(repoRoot(), 'monitoring/prometheus/tests/services.test.yaml')),
      ]);
      assert.equal(r.status, 1, r.output);
      assert.match(r.output, /ServiceHighErrorRate/);
    } finally {
      dir.cleanup();
    }
  });

  test('every alert has a case where it fires and one where it stays silent', () => {
    const tests = [...promtoolTestFiles().map(readTest), ...sloPromtoolTests(files)].map((t) => t.parsed);
    const cases = alertCases(tests);
    const missing = [...new Set(alertRules(files).map((a) => a.alert))].filter((a) => {
      const c = cases.get(a);
      return !c || c.fires === 0 || c.silent === 0;
    });
    assert.deepEqual(missing, []);
    // No case names an alert that does not exist.
    const names = new Set(alertRules(files).map((a) => a.alert));
    assert.deepEqual(
      [...cases.keys()].filter((a) => !names.has(a)),
      [],
    );
  });

  test('every alert: severity, team, summary, description, a runbook in docs/runbooks, a dashboard', () => {
    const problems: string[] = [];
    for (const a of alertRules(files)) {
      const where = `${a.file} ${a.alert}`;
      const severity = a.labels?.severity;
      if (!severity || !['critical', 'warning', 'info'].includes(severity))
        problems.push(`${where}: severity ${severity}`);
      const team = a.labels?.team;
      const joinsTeam = /group_left\s*\(\s*team\s*\)\s*mdp:app_team:info/.test(a.expr);
      if (!(team && TEAMS.includes(team)) && !joinsTeam)
        problems.push(`${where}: no team label and no join on mdp:app_team:info`);
      for (const k of ['summary', 'description', 'runbook_url', 'dashboard_url'])
        if (!a.annotations?.[k]) problems.push(`${where}: no ${k} annotation`);
      const runbook = a.annotations?.runbook_url ?? '';
      if (runbook !== `${RUNBOOK_BASE}${a.alert}.md`) problems.push(`${where}: runbook_url ${runbook}`);
      const file = path.join(repoRoot(), 'docs/runbooks', `${a.alert}.md`);
      if (!existsSync(file)) problems.push(`${where}: docs/runbooks/${a.alert}.md does not exist`);
      else if (!readFileSync(file, 'utf8').startsWith(`# ${a.alert}\n`))
        problems.push(`${where}: docs/runbooks/${a.alert}.md does not start with its title`);
      if (!/^https:\/\/grafana\.mdp\.example\/d\//.test(a.annotations?.dashboard_url ?? ''))
        problems.push(`${where}: dashboard_url ${a.annotations?.dashboard_url}`);
    }
    assert.deepEqual(problems, []);
  });

  test('every team an alert can carry is owned: mdp:app_team:info covers the five services', () => {
    const owners = recordingRules(files).filter((r) => r.record === 'mdp:app_team:info');
    assert.deepEqual(owners.map((o) => o.labels?.app).sort(), [
      'api-gateway',
      'notification-service',
      'order-service',
      'product-service',
      'user-service',
    ]);
    for (const o of owners)
      assert.ok(TEAMS.includes(o.labels?.team ?? ''), `${o.labels?.app}: team ${o.labels?.team}`);
  });

  test('every PrometheusRule carries the labels the platform and the Prometheus selector need', () => {
    for (const f of files) {
      const doc = readFileSync(path.join(repoRoot(), f.file), 'utf8');
      assert.match(doc, /app\.kubernetes\.io\/part-of: mdp/, f.file);
      assert.match(doc, /prometheus: mdp/, f.file);
    }
  });
});
