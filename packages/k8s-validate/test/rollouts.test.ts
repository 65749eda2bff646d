/**
 * The releases as rendered (deployment-strategies/ through the three overlays): which Rollout
 * releases which service and how, the analyses they run, and the PromQL of those analyses
 * parsed by the real promtool. The API server's verdict on the same objects: server.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import type { Resource } from '../src/resources.js';
import { rolloutAnalyses } from '../src/rules/rollout-consistent.js';
import { rendered, repoRoot } from './helpers.js';

const OVERLAYS = ['deploy/overlays/dev', 'deploy/overlays/staging', 'deploy/overlays/production'];
const CANARY = ['api-gateway', 'notification-service', 'order-service', 'product-service'];
const BLUE_GREEN = ['user-service'];

// biome-ignore lint/suspicious/noExplicitAny: rendered objects
type Any = any;

const ofKind = async (target: string, kind: string): Promise<Resource[]> =>
  (await rendered(target)).items.map((i) => i.resource).filter((r) => r.kind === kind);

const seconds = (d: string | number): number => {
  if (typeof d === 'number') return d;
  const m = /^(\d+)(s|m)?$/.exec(d);
  assert.ok(m, `duration ${d}`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
};

/** The Prometheus metrics of a render's AnalysisTemplates, with their template. */
async function prometheusMetrics(target: string): Promise<{ template: Resource; metric: Any }[]> {
  return (await ofKind(target, 'AnalysisTemplate')).flatMap((t) =>
    (t.spec.metrics as Any[]).filter((m) => m.provider.prometheus).map((metric) => ({ template: t, metric })),
  );
}

/** A query with its template arguments filled in the way the controller does ({{args.NAME}}). */
function resolve(query: string, values: Record<string, string>): string {
  return query.replace(/\{\{\s*args\.([a-z0-9-]+)\s*\}\}/g, (_, name: string) => {
    const v = values[name];
    assert.ok(v !== undefined, `no value for {{args.${name}}}`);
    return v;
  });
}

function promtoolCheck(queries: string[]): { status: number | null; out: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'analysis-promql-'));
  try {
    const file = path.join(dir, 'rules.yaml');
    writeFileSync(
      file,
      stringify({
        groups: [
          { name: 'analysis', rules: queries.map((expr, i) => ({ record: `analysis:query_${i}`, expr })) },
        ],
      }),
    );
    const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    assert.equal(r.error, undefined, 'promtool is missing: scripts/install-tools.d installs prometheus');
    return { status: r.status, out: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('releases (deployment-strategies through the overlays)', () => {
  for (const target of OVERLAYS) {
    const production = target.endsWith('production');

    test(`${target}: one Rollout per service, canary or blue-green, referencing its Deployment`, async () => {
      const rollouts = await ofKind(target, 'Rollout');
      const strategy = (r: Resource) => Object.keys(r.spec.strategy)[0];
      assert.deepEqual(
        rollouts
          .filter((r) => strategy(r) === 'canary')
          .map((r) => r.metadata.name)
          .sort(),
        CANARY,
      );
      assert.deepEqual(
        rollouts
          .filter((r) => strategy(r) === 'blueGreen')
          .map((r) => r.metadata.name)
          .sort(),
        BLUE_GREEN,
      );
      for (const r of rollouts) {
        assert.deepEqual(r.spec.workloadRef, {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: r.metadata.name,
          scaleDown: 'progressively',
        });
        assert.equal(r.spec.progressDeadlineAbort, true, r.metadata.name);
        assert.ok(r.spec.progressDeadlineSeconds <= 120, r.metadata.name);
        assert.ok(r.spec.rollbackWindow.revisions >= 1, r.metadata.name);
        assert.ok(r.spec.revisionHistoryLimit > r.spec.rollbackWindow.revisions, r.metadata.name);
      }
      const hpas = await ofKind(target, 'HorizontalPodAutoscaler');
      assert.equal(hpas.length, 4);
      for (const h of hpas) assert.equal(h.spec.scaleTargetRef.kind, 'Rollout', h.metadata.name);
      const nsvc = rollouts.find((r) => r.metadata.name === 'notification-service');
      assert.equal(nsvc?.spec.replicas, production || target.endsWith('staging') ? 2 : 1);
      // The services' Deployments leave replicas to their Rollouts (production's Flagsmith is a
      // plain Deployment of a third-party image, released by no Rollout).
      const deployments = (await ofKind(target, 'Deployment')).filter((d) =>
        d.spec.template.spec.containers.some((c: { image: string }) => c.image.startsWith('ghcr.io/')),
      );
      assert.deepEqual(deployments.map((d) => d.metadata.name).sort(), [...CANARY, ...BLUE_GREEN].sort());
      for (const d of deployments) assert.equal(d.spec.replicas, undefined, d.metadata.name);
    });

    test(`${target}: canary steps 10 -> pause -> 50 -> pause -> 100 with background analysis by pod hash`, async () => {
      for (const r of (await ofKind(target, 'Rollout')).filter((x) => x.spec.strategy.canary)) {
        const c = r.spec.strategy.canary;
        const shape = (c.steps as Any[]).map((s) =>
          s.setWeight !== undefined ? s.setWeight : s.pause ? 'pause' : Object.keys(s)[0],
        );
        assert.deepEqual(shape, [10, 'pause', 50, 'pause', 100], r.metadata.name);
        const args = Object.fromEntries((c.analysis.args as Any[]).map((a) => [a.name, a]));
        assert.deepEqual(args['canary-hash'].valueFrom, { podTemplateHashValue: 'Latest' });
        assert.deepEqual(args['stable-hash'].valueFrom, { podTemplateHashValue: 'Stable' });
        assert.equal(args.service.value, r.metadata.name);
        const names = (c.analysis.templates as Any[]).map((t) => t.templateName);
        if (r.metadata.name === 'notification-service') {
          assert.deepEqual(names, ['consume-errors']);
          assert.equal(c.canaryService, undefined, 'a queue consumer has no traffic to route');
        } else {
          assert.deepEqual(names, ['http-success-rate', 'http-latency-p99']);
          assert.equal(c.stableService, `${r.metadata.name}-stable`);
          assert.equal(c.canaryService, `${r.metadata.name}-canary`);
        }
      }
    });

    test(`${target}: blue-green promotes ${production ? 'only by a person' : 'automatically'}, validated by the smoke Job`, async () => {
      const [r] = (await ofKind(target, 'Rollout')).filter((x) => x.spec.strategy.blueGreen);
      const bg = r?.spec.strategy.blueGreen;
      assert.equal(bg.autoPromotionEnabled, !production);
      assert.equal(bg.activeService, 'user-service');
      assert.equal(bg.previewService, 'user-service-preview');
      assert.ok(
        bg.scaleDownDelaySeconds >= 30,
        'switching back is a selector switch only while the old pods run',
      );
      assert.deepEqual(
        (bg.prePromotionAnalysis.templates as Any[]).map((t) => t.templateName),
        ['smoke-preview'],
      );
      assert.deepEqual(bg.prePromotionAnalysis.args, [
        { name: 'user-service-url', value: 'http://user-service-preview' },
      ]);
      assert.deepEqual(
        (bg.postPromotionAnalysis.templates as Any[]).map((t) => t.templateName),
        ['http-success-rate-after-switch', 'http-latency-p99-after-switch'],
      );
    });

    test(`${target}: every Prometheus analysis fails on no data, NaN and low traffic, with its limits set`, async () => {
      const metrics = await prometheusMetrics(target);
      assert.equal(metrics.length, 8);
      for (const { template, metric } of metrics) {
        const id = `${template.metadata.name}/${metric.name}`;
        assert.equal(template.spec.args[0].name, 'prometheus-address', id);
        assert.equal(metric.provider.prometheus.address, '{{args.prometheus-address}}', id);
        assert.match(
          metric.failureCondition,
          /^len\(result\) == 0 \|\| isNaN\(result\[0\]\) \|\| isInf\(result\[0\]\) \|\| /,
          id,
        );
        assert.match(
          metric.successCondition,
          /^len\(result\) > 0 && !isNaN\(result\[0\]\) && !isInf\(result\[0\]\) && /,
          id,
        );
        for (const limit of ['failureLimit', 'inconclusiveLimit', 'consecutiveErrorLimit'])
          assert.equal(typeof metric[limit], 'number', `${id}: ${limit}`);
        const q: string = metric.provider.prometheus.query;
        // The contract's scrape labels select the new pods exactly.
        assert.match(
          q,
          /namespace="\{\{args\.namespace\}\}",app="\{\{args\.service\}\}",rollouts_pod_template_hash="\{\{args\.canary-hash\}\}"/,
          id,
        );
        // Low traffic cannot promote: the result is empty (a failure) below the minimum count.
        assert.match(
          q,
          /and on\(\)\n\(sum\(increase\([a-z_]+_total\{.+\}\[1m\]\)\) >= \{\{args\.min-(requests|messages)\}\}\)$/,
          id,
        );
      }
    });

    test(`${target}: the analyses' PromQL parses (promtool), with the arguments filled in`, async () => {
      const values = {
        'prometheus-address': 'http://prometheus:9090',
        service: 'order-service',
        namespace: 'mdp-production',
        'canary-hash': '7f8e9d0c1',
        'stable-hash': '6d4f9c7b8',
        'min-requests': '50',
        'min-messages': '20',
      };
      const queries = (await prometheusMetrics(target)).map(({ metric }) =>
        resolve(metric.provider.prometheus.query, values),
      );
      const ok = promtoolCheck(queries);
      assert.equal(ok.status, 0, ok.out);
      // The check can fail: one missing parenthesis is refused.
      const broken = promtoolCheck([queries[0]?.replace(/\)$/, '') ?? '']);
      assert.notEqual(broken.status, 0);
    });
  }

  test('production timings: time to detect, deploy and rollback within the plan targets (README figures)', async () => {
    const target = 'deploy/overlays/production';
    const metrics = await prometheusMetrics(target);
    const detect = new Set(metrics.map(({ metric }) => seconds(metric.interval) * (metric.failureLimit + 1)));
    assert.deepEqual([...detect], [20], 'time to detect = interval x (failureLimit + 1)');
    const delays = new Set(metrics.map(({ metric }) => seconds(metric.initialDelay)));
    assert.deepEqual([...delays], [30]);
    const canaries = (await ofKind(target, 'Rollout')).filter((r) => r.spec.strategy.canary);
    for (const r of canaries) {
      const paused = (r.spec.strategy.canary.steps as Any[])
        .filter((s) => s.pause)
        .reduce((sum, s) => sum + seconds(s.pause.duration), 0);
      assert.equal(paused, 60, r.metadata.name);
    }
    const readme = readFileSync(path.join(repoRoot, 'deployment-strategies/README.md'), 'utf8');
    assert.match(readme, /10 s × \(1 \+ 1\) = 20 s/);
    assert.match(readme, /30 s \+ 20 s = 50 s/);
  });

  test('every analysis a Rollout starts exists in the render (all overlays)', async () => {
    for (const target of OVERLAYS) {
      const templates = new Set((await ofKind(target, 'AnalysisTemplate')).map((t) => t.metadata.name));
      assert.equal(templates.size, 6, target);
      for (const r of await ofKind(target, 'Rollout'))
        for (const a of rolloutAnalyses(r))
          for (const t of a.templates)
            assert.ok(templates.has(t.templateName), `${target} ${t.templateName}`);
    }
  });

  test('the smoke Job runs the image’s own smoke test through a gateway whose user-service is the preview', async () => {
    const t = (await ofKind('deploy/overlays/production', 'AnalysisTemplate')).find(
      (x) => x.metadata.name === 'smoke-preview',
    );
    const job = t?.spec.metrics[0].provider.job;
    const pod = job.spec.template;
    const [gateway] = pod.spec.initContainers;
    const [smoke] = pod.spec.containers;
    assert.equal(gateway.restartPolicy, 'Always', 'a native sidecar: the Job ends with the smoke container');
    assert.equal(gateway.image, 'ghcr.io/mdp-example/api-gateway:0.1.0');
    assert.equal(smoke.image, 'ghcr.io/mdp-example/api-gateway:0.1.0');
    assert.deepEqual(smoke.args, [
      '/app/packages/api-client/dist/src/smoke.js',
      '--base-url',
      'http://127.0.0.1:8080',
    ]);
    assert.deepEqual(
      gateway.env.find((e: Any) => e.name === 'USER_SERVICE_URL'),
      { name: 'USER_SERVICE_URL', value: '{{args.user-service-url}}' },
    );
    // The generated ConfigMaps' hashed names reached the template.
    const cms = new Set(
      (await ofKind('deploy/overlays/production', 'ConfigMap')).map((c) => c.metadata.name),
    );
    for (const e of gateway.envFrom.filter((x: Any) => x.configMapRef))
      assert.ok(cms.has(e.configMapRef.name), e.configMapRef.name);
    // Never a production gateway: the gateway's Services select part-of=mdp, which the pod lacks.
    assert.equal(pod.metadata.labels['app.kubernetes.io/part-of'], undefined);
    assert.equal(pod.spec.restartPolicy, 'Never');
    assert.equal(job.spec.backoffLimit, 0);
    assert.equal(t?.spec.metrics[0].failureLimit, 0);
  });
});
