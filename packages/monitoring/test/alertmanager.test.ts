// monitoring/alertmanager run by the real amtool: the config passes check-config, every route
// case reaches exactly its receiver, every route of the tree has a case, the inhibitions name
// alerts that exist, and the Slack receivers send resolved messages with the webhook from a file.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkConfig,
  exercises,
  readConfig,
  renderTemplates,
  routeCases,
  routeNodes,
  testRoute,
} from '../src/alertmanager.js';
import { alertRules } from '../src/monitoring.js';

describe('Alertmanager (amtool)', () => {
  const config = readConfig();
  const cases = routeCases();

  test('amtool check-config passes', () => {
    const r = checkConfig();
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /SUCCESS/);
  });

  for (const c of cases)
    test(`route: ${c.name} -> ${c.receivers.join(', ')}`, () => {
      const r = testRoute(c);
      assert.equal(r.status, 0, `${r.command}\n${r.output}`);
    });

  test('a wrong expected receiver fails amtool config routes test (the cases can fail)', () => {
    const c = cases[0];
    assert.ok(c);
    const r = testRoute({ ...c, receivers: ['slack-platform'] });
    assert.equal(r.status, 1, r.output);
  });

  test('every route of the tree is exercised by a case', () => {
    const nodes = routeNodes(config);
    const uncovered = nodes.filter((n) => !cases.some((c) => exercises(c, n, config))).map((n) => n.path);
    assert.deepEqual(uncovered, []);
    assert.ok(nodes.length >= 7, `routes: ${nodes.length}`);
  });

  test('routing by severity and team: every team an alert carries has its own route', () => {
    const teams = new Set(alertRules().flatMap((a) => (a.labels?.team ? [a.labels.team] : [])));
    for (const t of ['storefront', 'identity', 'orders', 'platform']) teams.add(t);
    const routed = new Set(
      (config.route.routes ?? []).flatMap((r) =>
        (r.matchers ?? []).map((m) => /^team="(.*)"$/.exec(m)?.[1]).filter(Boolean),
      ),
    );
    assert.deepEqual(
      [...teams].filter((t) => !routed.has(t)),
      [],
    );
    assert.ok((config.route.routes ?? []).some((r) => r.matchers?.includes('severity="critical"')));
  });

  test('inhibitions: a service down silences its error, latency and SLO alerts, which exist', () => {
    const names = new Set(alertRules().map((a) => a.alert));
    const rules = config.inhibit_rules ?? [];
    const fromDown = rules.filter((r) => r.source_matchers.includes('alertname="ServiceDown"'));
    assert.ok(fromDown.length > 0);
    const targets = fromDown.flatMap((r) =>
      r.target_matchers.flatMap((m) => {
        const re = /^alertname=~"(.*)"$/.exec(m)?.[1];
        return re ? [new RegExp(`^(?:${re})$`)] : [];
      }),
    );
    for (const a of ['ServiceHighErrorRate', 'ServiceHighLatency']) {
      assert.ok(names.has(a), `${a} is not an alert`);
      assert.ok(
        targets.some((t) => t.test(a)),
        `${a} is not inhibited by ServiceDown`,
      );
    }
    const slo = [...names].filter((n) => n.startsWith('SLO'));
    assert.ok(slo.length > 0, 'no SLO alerts');
    for (const a of slo)
      assert.ok(
        targets.some((t) => t.test(a)),
        `${a} is not inhibited by ServiceDown`,
      );
    // Every alternative of a target regex names a real alert (no stale names after a rename).
    for (const r of fromDown)
      for (const m of r.target_matchers) {
        const re = /^alertname=~"(.*)"$/.exec(m)?.[1];
        for (const alt of re?.split('|') ?? [])
          assert.ok(
            [...names].some((n) => new RegExp(`^(?:${alt})$`).test(n)),
            `inhibition target ${alt} matches no alert`,
          );
      }
  });

  test('Slack receivers: resolved messages, templates with runbook and dashboard, the webhook from a file', () => {
    const raw = config as unknown as {
      global?: Record<string, string>;
      receivers: { name: string; slack_configs?: Record<string, unknown>[] }[];
      templates?: string[];
    };
    assert.ok(raw.global?.slack_api_url_file?.startsWith('/etc/alertmanager/secrets/alertmanager-slack/'));
    assert.equal(raw.global?.slack_api_url, undefined);
    const slack = raw.receivers.flatMap((r) => r.slack_configs ?? []);
    assert.ok(slack.length >= 5);
    for (const s of slack) {
      assert.equal(s.send_resolved, true);
      assert.equal(s.api_url, undefined, 'a webhook URL in the config');
      assert.equal(s.text, '{{ template "mdp.slack.text" . }}');
    }
    const tmpl = renderTemplates(['mdp.slack.title', 'mdp.slack.text', 'mdp.slack.color']);
    assert.equal(tmpl.status, 0, tmpl.output);
  });
});
