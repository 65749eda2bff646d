import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROOT } from '@mdp/stack/services';
import {
  applyPatch,
  rehearsalObjects,
  rehearsalPatch,
  renderProduction,
  serviceObjects,
  timing,
} from './manifests.js';

test('the rehearsal-only patch scales the production Rollout and AnalysisTemplates, and nothing else', async () => {
  const render = await renderProduction(ROOT);
  const objs = serviceObjects(render, 'order-service');
  const t = timing(0.1, objs.podMonitor);
  assert.deepEqual(t, { scale: 0.1, scrapeSeconds: 1.5, windowSeconds: 6 });
  const ops = rehearsalPatch(objs, { timing: t, prometheusUrl: 'http://127.0.0.1:1', replicas: 10 });
  const own = rehearsalPatch(objs, { timing: t, prometheusUrl: 'u', replicas: 10, minRequests: 3 });
  const items = rehearsalObjects(objs, {
    namespace: 'ns',
    image: 'img@sha256:1',
    container: 'order-service',
  });
  const before = JSON.parse(JSON.stringify(items));
  applyPatch(items, ops);
  const rollout = items.find((i) => i.kind === 'Rollout');
  assert.equal(rollout?.spec.replicas, 10);
  assert.deepEqual(rollout?.spec.strategy.canary.steps, [
    { setWeight: 10 },
    { pause: { duration: '3s' } },
    { setWeight: 50 },
    { pause: { duration: '3s' } },
    { setWeight: 100 },
  ]);
  const sr = items.find((i) => i.metadata.name === 'http-success-rate');
  const metric = sr?.spec.metrics[0];
  assert.equal(metric.initialDelay, '3s');
  assert.equal(metric.interval, '1s');
  assert.match(metric.provider.prometheus.query, /\[6s\]/);
  assert.doesNotMatch(metric.provider.prometheus.query, /\[1m\]/);
  assert.equal(
    metric.successCondition,
    before.find((i: { metadata: { name: string } }) => i.metadata.name === 'http-success-rate').spec
      .metrics[0].successCondition,
  );
  assert.equal(sr?.spec.args[0].value, 'http://127.0.0.1:1');
  assert.equal(sr?.spec.args.find((a: { name: string }) => a.name === 'min-requests').value, '5');
  assert.ok(own.some((o) => o.path.endsWith('/value') && o.value === '3' && o.was === '50'));
  // Every object is in the rehearsal's namespace; the Deployment runs the given image.
  for (const i of items.slice(1)) assert.equal(i.metadata.namespace, 'ns');
  assert.equal(items[0]?.metadata.name, 'ns');
  assert.equal(
    items.find((i) => i.kind === 'Deployment')?.spec.template.spec.containers[0].image,
    'img@sha256:1',
  );
  // Only the patched paths changed.
  const changed = ops.map((o) => `${o.target}${o.path}`);
  assert.ok(changed.every((c) => !c.includes('Condition')));
});
