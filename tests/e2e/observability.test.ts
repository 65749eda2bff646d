/**
 * Observability, live (issue 11, items 9 and 10): the five services as processes, with the real
 * engines and the files of monitoring/ — Prometheus (the rule files of monitoring/prometheus and
 * monitoring/slo/rules; scrape jobs relabelled as the PodMonitors do; postgres_exporter and
 * redis_exporter), Alertmanager (monitoring/alertmanager, its Slack webhook pointed at a local
 * Slack-compatible receiver), the collector (monitoring/jaeger/collector-config.yaml) and Jaeger v2
 * (monitoring/jaeger/jaeger-config.yaml). After a short load and one call of every public operation:
 *   - every dashboard panel query and every recording rule, as an instant query: no error, and no
 *     empty result except where a metric cannot exist here (promql.ts says which and why);
 *   - Jaeger holds the journey's traces across all five services, with every edge of the
 *     architecture (README's diagram) among its dependency links;
 *   - tracing coverage: every operation of the OpenAPI document and every event type produced
 *     connected spans (coverage.ts), as a figure (100% required);
 *   - a service stopped: ServiceDown fires and Alertmanager delivers it to the Slack receiver with
 *     the template's text.
 * Test-only settings (printed): 1 s scrape and rule evaluation, ServiceDown's `for` 5 s, tail
 * sampling keeps 100% after 3 s. Figures are printed, not asserted against the clock.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CONSUMERS, EVENTS } from '@mdp/contracts/events';
import { DASHBOARDS, dashboardFile, dashboardQueries } from '@mdp/monitoring/dashboards';
import { recordingRules } from '@mdp/monitoring/monitoring';
import {
  type Observability,
  type Ports,
  serviceTargets,
  startObservability,
} from '@mdp/monitoring/observability';
import { type SlackReceiver, startSlackReceiver } from '@mdp/monitoring/slack-receiver';
import { slos } from '@mdp/monitoring/slo';
import { eventually, TEST_PG_URL, TEST_REDIS_URL } from '@mdp/platform/testing';
import { architectureEdges } from './architecture.js';
import { apiClientCli } from './cli.js';
import {
  type Call,
  documentOperations,
  EVENT_TYPES,
  exerciseEveryOperation,
  judge,
  type Verdict,
} from './coverage.js';
import { dependencies, getTrace } from './jaeger.js';
import { shopJourney } from './journey.js';
import { instant, judgeEmpty, type Result, type Role } from './promql.js';
import { type Stack, startStack } from './stack.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const NAMESPACE = 'mdp-dev';
const TEST_ONLY = {
  scrapeInterval: '1s',
  evaluationInterval: '1s',
  rules: { groupInterval: '1s', for: { ServiceDown: '5s' } },
  prometheusArgs: ['--rules.alert.resend-delay=1s'],
  collector: {
    tailSamplingPercent: 100,
    tailDecisionWait: '3s',
    spanmetricsFlushInterval: '1s',
    batchTimeout: '200ms',
  },
};
// Who has which messaging series at all, from the contract (a service that publishes nothing has
// no messages_published_total): the RED dashboard's messaging panels bound to another service
// may be empty.
const ROLES: Role[] = [
  {
    metric: /messages_published/,
    apps: new Set(Object.values(EVENTS).map((e) => e.source)),
    reason: 'publishes no event (EVENTS, packages/contracts)',
  },
  {
    metric: /messages_consumed/,
    apps: new Set(Object.keys(CONSUMERS)),
    reason: 'consumes no queue (CONSUMERS, packages/contracts)',
  },
  {
    metric: /outbox_pending/,
    apps: new Set(
      Object.values(EVENTS)
        .filter((e) => e.delivery === 'outbox')
        .map((e) => e.source),
    ),
    reason: 'has no outbox (no event of its with delivery outbox, packages/contracts)',
  },
];
const ADMIN = { email: 'admin@mdp.local', password: `admin-${process.pid}-live-obs` };
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const say = (line: string) => process.stdout.write(`# observability: ${line}\n`);

describe('observability, live: Prometheus, Alertmanager, Jaeger v2 and the collector on the running shop', {
  timeout: 600_000,
}, () => {
  const t0 = Date.now();
  let stack: Stack | undefined;
  let obs: Observability;
  let slack: SlackReceiver;
  let dir: string;
  let flagsFile: string;
  let calls: Call[] = [];
  const doc = JSON.parse(readFileSync(path.join(ROOT, 'packages/api-client/openapi.json'), 'utf8'));

  const setFlags = (variants: Record<string, string>) => {
    const flags = JSON.parse(readFileSync(path.join(ROOT, 'config/flags/flags.json'), 'utf8'));
    for (const [k, v] of Object.entries(variants)) flags.flags[k].defaultVariant = v;
    writeFileSync(flagsFile, JSON.stringify(flags));
  };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'mdp-live-obs-'));
    flagsFile = path.join(dir, 'flags.json');
    setFlags({ 'gateway.rate-limit-per-minute': 'relaxed' });
    slack = await startSlackReceiver();
    const names = [
      'prometheus',
      'alertmanager',
      'jaegerUi',
      'jaegerGrpc',
      'jaegerOtlpGrpc',
      'otlpHttp',
      'otlpGrpc',
      'spanmetrics',
      'collectorTelemetry',
      'jaegerTelemetry',
      'jaegerHealth',
      'postgresExporter',
      'redisExporter',
    ] as const;
    // 0: startObservability picks each port as its engine starts (and again if it was taken).
    const ports = {} as Ports;
    for (const n of names) ports[n] = 0;
    // The seed creates the administrator with this password (createProduct / updateProduct).
    process.env.SEED_ADMIN_PASSWORD = ADMIN.password;
    obs = await startObservability({
      dir,
      ports,
      namespace: NAMESPACE,
      slackUrl: slack.url,
      postgresUrl: TEST_PG_URL,
      redisUrl: TEST_REDIS_URL,
      ...TEST_ONLY,
      targets: async (otlpHttp) => {
        stack = await startStack({ otlpEndpoint: otlpHttp, flagsFile });
        return serviceTargets(stack.urls);
      },
    });
    say(
      `test-only settings: scrape and evaluation every ${TEST_ONLY.scrapeInterval}, every rule group at ${TEST_ONLY.rules.groupInterval}, ServiceDown for ${TEST_ONLY.rules.for.ServiceDown} (monitoring/: 2m), --rules.alert.resend-delay=1s; collector: tail sampling ${TEST_ONLY.collector.tailSamplingPercent}% after ${TEST_ONLY.collector.tailDecisionWait} (cluster: 10% after 10s, errors and slow traces always), spanmetrics flush ${TEST_ONLY.collector.spanmetricsFlushInterval}`,
    );
    say(`engines and the five services up in ${seconds(Date.now() - t0)}`);
  });

  after(async () => {
    delete process.env.SEED_ADMIN_PASSWORD;
    await stack?.stop();
    await obs?.stop();
    await slack?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    say(`whole live test: ${seconds(Date.now() - t0)}`);
  });

  test('load: smoke, the journey, every public operation once (own trace ids), a 5xx in every operation group, the ci load test', async () => {
    const gw = (stack as Stack).gateway;
    const started = Date.now();
    const smoke = await apiClientCli('smoke', ['--base-url', gw]);
    assert.equal(smoke.code, 0, smoke.stdout + smoke.stderr);
    await shopJourney(gw);
    calls = await exerciseEveryOperation(gw, doc, ADMIN);
    // Real 5xx through real configuration: kill switches answer 503 FEATURE_DISABLED; at the
    // gateway (one per operation group) and in each service, then switched back on.
    const probes: [string, string][] = [
      ['gateway.auth', '/api/auth/login'],
      ['gateway.products', '/api/products'],
      ['gateway.orders', '/api/orders'],
      ['gateway.notifications', '/api/notifications'],
      ['users.read-me', '/api/users/me'],
      ['products.list', '/api/products'],
      ['orders.list', '/api/orders'],
      ['notifications.list', '/api/notifications'],
    ];
    const token = (
      (await (
        await fetch(`${gw}/api/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(ADMIN),
          signal: AbortSignal.timeout(10_000),
        })
      ).json()) as { accessToken: string }
    ).accessToken;
    const status = async (p: string) => {
      const res = await fetch(`${gw}${p}`, {
        method: p === '/api/auth/login' ? 'POST' : 'GET',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(p === '/api/auth/login' ? { body: JSON.stringify(ADMIN) } : {}),
        signal: AbortSignal.timeout(10_000),
      });
      await res.body?.cancel();
      return res.status;
    };
    // Two rounds: the gateway's switches (a 503 at the gateway, per operation group), then the
    // services' (a 503 in each service, passed on by the gateway).
    for (const round of [probes.slice(0, 4), probes.slice(4)]) {
      setFlags({
        ...Object.fromEntries(round.map(([f]) => [f, 'off'])),
        'gateway.rate-limit-per-minute': 'relaxed',
      });
      for (const [flag, p] of round)
        await eventually(async () => (await status(p)) === 503, 20_000, 200).catch((e) => {
          throw new Error(`${flag} off: ${p} never answered 503 (${e.message})`);
        });
      setFlags({ 'gateway.rate-limit-per-minute': 'relaxed' });
      for (const [, p] of round) await eventually(async () => (await status(p)) === 200, 20_000, 200);
    }
    const load = await apiClientCli('loadtest', ['--base-url', gw, '--profile', 'ci', '--json']);
    assert.equal((load.last as { errorRate?: number }).errorRate, 0, load.stdout + load.stderr);
    say(
      `load (smoke, journey, ${calls.length} operation calls, 8 kill-switch 5xx, loadtest ci) in ${seconds(Date.now() - started)}`,
    );
  });

  test("the exporters and the five services are scraped with the PodMonitors' labels", async () => {
    const prom = obs.urls.prometheus;
    await eventually(
      async () =>
        (
          await instant(
            prom,
            'up{namespace="mdp-dev", app=~"api-gateway|user-service|product-service|order-service|notification-service|postgresql|redis|otel-collector"} == 1',
          )
        ).samples === 8,
      30_000,
      500,
    );
    const build = await instant(prom, 'app_build_info{namespace="mdp-dev", pod!="", version!=""}');
    assert.equal(build.samples, 5, 'app_build_info of the five services, with namespace, pod and version');
  });

  test('every dashboard panel query and every recording rule answers, and none is empty where data must exist', async (t) => {
    const prom = obs.urls.prometheus;
    const started = Date.now();
    const services = (stack as Stack).services;
    const sloIds = slos().map((s) => s.id);
    // Grafana's variables, bound to every value they take here.
    const bindings = (expr: string): Record<string, string>[] => {
      let out: Record<string, string>[] = [{ $namespace: NAMESPACE, $__rate_interval: '1m' }];
      const expand = (v: string, values: string[]) => {
        if (expr.includes(v)) out = out.flatMap((b) => values.map((x) => ({ ...b, [v]: x })));
      };
      expand('$app', services);
      expand('$rollout', services);
      expand('$slo', sloIds);
      return out;
    };
    const bind = (expr: string, b: Record<string, string>) =>
      Object.entries(b).reduce((e, [k, v]) => e.replaceAll(k, v), expr);
    // Recording rules first: wait until each group has been evaluated a few times (the
    // 30-day Sloth rules read the 5-minute ones).
    await eventually(
      async () => (await instant(prom, 'slo:period_burn_rate:ratio')).samples > 0,
      60_000,
      500,
    );
    // The database-uptime SLIs sample pg_up once a minute (subquery [w:1m], aligned to the
    // minute): the last SLO to have data; wait for the end of its chain of recorded series.
    await eventually(
      async () =>
        (
          await instant(
            prom,
            'slo:period_error_budget_remaining:ratio{sloth_id="databases-postgresql-uptime"}',
          )
        ).samples > 0,
      90_000,
      1000,
    );
    const results: Result[] = [];
    for (const r of recordingRules())
      results.push({
        expr: r.expr,
        source: `${r.file} ${r.record}`,
        records: r.record,
        ...(r.labels ? { labels: r.labels } : {}),
        ...(await instant(prom, r.expr)),
      });
    let panelQueries = 0;
    for (const name of Object.keys(DASHBOARDS)) {
      const json = JSON.parse(readFileSync(dashboardFile(name), 'utf8')) as { panels: unknown[] };
      for (const expr of dashboardQueries(json.panels)) {
        panelQueries++;
        for (const b of bindings(expr)) {
          const q = bind(expr, b);
          results.push({
            expr: q,
            source: `${name}.json`,
            ...(b.$app ? { app: b.$app } : {}),
            ...(await instant(prom, q)),
          });
        }
      }
    }
    const allowed = await judgeEmpty(prom, results, ROLES);
    const errors = results.filter((r) => r.error);
    const empty = results.filter((r) => !r.error && r.samples === 0 && !r.allowed);
    const rules = results.filter((r) => r.records);
    const panels = results.filter((r) => !r.records);
    const lines = [
      `recording rules evaluated: ${rules.length} (empty: ${rules.filter((r) => r.samples === 0).length}, all on the allow-list)`,
      `dashboard panel queries: ${panelQueries} in ${Object.keys(DASHBOARDS).length} dashboards, executed ${panels.length} times with their variables bound (empty: ${panels.filter((r) => r.samples === 0).length}, all on the allow-list)`,
      ...[...allowed].map(([reason, n]) => `  allowed empty ×${n}: ${reason}`),
      `errors: ${errors.length}, empty outside the allow-list: ${empty.length}; in ${seconds(Date.now() - started)}`,
    ];
    for (const l of lines) say(l);
    t.diagnostic(lines.join('\n'));
    assert.deepEqual(
      errors.map((r) => `${r.source}: ${r.error}`),
      [],
    );
    assert.deepEqual(
      empty.map(
        (r) => `${r.source}: ${r.expr} (selecting nothing: ${r.emptySelectors?.join(', ') || 'none'})`,
      ),
      [],
    );
  });

  test('tracing coverage: every OpenAPI operation and every event type produced connected spans in Jaeger (100%)', async (t) => {
    const jaeger = obs.urls.jaeger;
    const verdicts = new Map<Call, Verdict>();
    // Each trace is complete once its consume spans (after the outbox relay) are in; wait for
    // that marker per call, then judge.
    await eventually(
      async () => {
        for (const c of calls) {
          if (verdicts.get(c)?.problems.length === 0) continue;
          verdicts.set(c, judge(c, await getTrace(jaeger, c.traceId)));
        }
        return [...verdicts.values()].every((v) => v.problems.length === 0);
      },
      30_000,
      1000,
    ).catch(() => {});
    const ops = documentOperations(doc);
    const coveredOps = ops.filter((o) =>
      calls.some((c) => c.operationId === o.operationId && verdicts.get(c)?.problems.length === 0),
    );
    const coveredEvents = EVENT_TYPES.filter((e) =>
      [...verdicts.values()].some((v) => v.eventsConnected.includes(e)),
    );
    const total = ops.length + EVENT_TYPES.length;
    const covered = coveredOps.length + coveredEvents.length;
    const lines = [
      `tracing coverage: ${covered}/${total} = ${((100 * covered) / total).toFixed(1)}% (operations ${coveredOps.length}/${ops.length} from openapi.json, event types ${coveredEvents.length}/${EVENT_TYPES.length})`,
    ];
    for (const v of verdicts.values())
      if (v.problems.length)
        lines.push(`  ${v.call.operationId} (${v.call.traceId}): ${v.problems.join('; ')}`);
    for (const l of lines) say(l);
    t.diagnostic(lines.join('\n'));
    assert.equal(covered, total, lines.join('\n'));
  });

  test("Jaeger: the journey's traces span all five services, and its dependency links hold every edge of the architecture", async (t) => {
    const jaeger = obs.urls.jaeger;
    const services = (stack as Stack).services;
    const register = calls.find((c) => c.operationId === 'register') as Call;
    const trace = await getTrace(jaeger, register.traceId);
    const seen = new Set<string>();
    for (const c of calls)
      for (const s of (await getTrace(jaeger, c.traceId))?.spans ?? []) seen.add(s.service);
    assert.deepEqual([...seen].filter((s) => services.includes(s)).sort(), [...services].sort());
    assert.ok(
      trace?.spans.some((s) => s.service === 'user-service') &&
        trace.spans.some((s) => s.service === 'notification-service' && s.kind === 'consumer'),
      'the sign-up trace holds user-service and the event consumer',
    );
    const expected = architectureEdges(services).map(([a, b]) => `${a} -> ${b}`);
    const links = await dependencies(jaeger, Date.now() - t0 + 60_000);
    const have = new Set(links.map((l) => `${l.parent} -> ${l.child}`));
    const lines = [
      `service-graph edges (Jaeger /api/dependencies): ${expected.filter((e) => have.has(e)).length}/${expected.length} of the architecture's present; links: ${links.map((l) => `${l.parent} -> ${l.child} (${l.callCount})`).join(', ')}`,
    ];
    for (const l of lines) say(l);
    t.diagnostic(lines.join('\n'));
    assert.deepEqual(
      expected.filter((e) => !have.has(e)),
      [],
    );
  });

  test("a service stopped: ServiceDown fires and Alertmanager delivers it to Slack with the template's text", async () => {
    const started = Date.now();
    const victim = (stack as Stack).procs['user-service'];
    assert.ok(victim);
    const exited = new Promise<void>((r) => victim.once('exit', () => r()));
    victim.kill('SIGTERM');
    await exited;
    const fired = (channel: string) =>
      slack.messages.find(
        (m) => m.channel === channel && m.attachments?.some((a) => a.title?.includes('ServiceDown')),
      );
    await eventually(() => fired('#mdp-incidents') && fired('#team-identity'), 120_000, 500).catch((e) => {
      throw new Error(`${e.message}; received: ${JSON.stringify(slack.messages)}`);
    });
    const page = fired('#mdp-incidents')?.attachments?.[0];
    assert.equal(page?.title, '[FIRING:1] ServiceDown in mdp-dev (user-service)');
    assert.equal(page?.color, 'danger');
    assert.match(page?.text ?? '', /^\*Critical:\* user-service is down in mdp-dev$/m);
    assert.match(page?.text ?? '', /No pod of user-service in mdp-dev has answered a scrape of \/metrics/);
    assert.match(
      page?.text ?? '',
      /\*Runbook:\* <https:\/\/\S+\/docs\/runbooks\/ServiceDown\.md\|ServiceDown\.md>/,
    );
    assert.match(
      page?.text ?? '',
      /\*Dashboard:\* <https:\/\/grafana\.mdp\.example\/d\/mdp-red\/\S+var-app=user-service\|open>/,
    );
    assert.deepEqual(
      fired('#mdp-incidents')?.attachments?.[0]?.actions?.map((a) => a.text),
      ['Runbook', 'Dashboard'],
    );
    say(
      `ServiceDown: user-service stopped -> Slack (#mdp-incidents and #team-identity) in ${seconds(Date.now() - started)}`,
    );
  });
});
