/**
 * Traffic shifting by the real Argo Rollouts controller on the local cluster: the dev overlay's
 * api-gateway and order-service releases (their Deployments, Services, Rollouts, the edge
 * Gateway and HTTPRoute, the mesh VirtualService), in a namespace of their own. A new pod
 * template starts a canary; watches on the HTTPRoute and the VirtualService record every weight
 * the controller writes, through the Gateway API traffic-router plugin (the stand-in of
 * tools/gatewayapi-router, registered in argo-rollouts-config as deploy/cluster registers the
 * upstream one) and through its built-in Istio router.
 *
 * Test-only change, stated: the Rollouts' background analysis is removed (its Prometheus
 * queries are the subject of server.test.ts and the release rehearsal); steps, weights and
 * pauses are the shipped ones. What is not covered: a data plane. No Envoy runs here, so the
 * weights are what the controller wrote into the routes, not a measured traffic share.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Cluster, startCluster } from '@mdp/cluster/cluster';
import { type Managed, startProcess } from '@mdp/cluster/processes';
import { engine, systemTool } from '@mdp/cluster/tools';
import { stringify } from 'yaml';
import { argoCdHealth } from '../src/argocd-health.js';
import type { Located, Resource } from '../src/resources.js';
import { APPLIED_TARGET, createNamespaces, dryRun, startRolloutsController } from '../src/server.js';
import { copy, flaggerVariant, rendered } from './helpers.js';

const NS = 'mdp-traffic';
const RELEASED = ['api-gateway', 'order-service'];

let cluster: Cluster;
let controller: Managed;
const watches: Managed[] = [];

/** The dev render's objects of the two releases, moved to NS, the Rollouts without analysis. */
async function releaseObjects(): Promise<Located[]> {
  const dev = copy((await rendered(APPLIED_TARGET)).items);
  const wanted = (i: Located) => {
    const r = i.resource;
    const name = r.metadata.name;
    if (r.kind === 'Namespace') return true;
    if (['ConfigMap', 'ServiceAccount'].includes(r.kind)) return true;
    if (['Gateway', 'HTTPRoute'].includes(r.kind)) return true;
    if (['Deployment', 'Rollout', 'VirtualService'].includes(r.kind)) return RELEASED.includes(name);
    if (r.kind === 'Service') return RELEASED.some((s) => name === s || name.startsWith(`${s}-`));
    return false;
  };
  return dev.filter(wanted).map((i) => {
    const r = i.resource;
    if (r.kind === 'Namespace') r.metadata.name = NS;
    else r.metadata.namespace = NS;
    if (r.kind === 'Rollout') delete r.spec.strategy.canary.analysis;
    return i;
  });
}

interface Change {
  seconds: number;
  weights: string;
}

/**
 * Watches one object and records every distinct set of weights it holds (a kubectl watch: the
 * object first, then every update event, each printed whole as JSON), with the seconds since `t0`.
 */
function watchWeights(what: string, weights: (obj: Resource) => string, t0: number) {
  const file = path.join(cluster.dir, `watch-${what.replace('/', '-')}-${watches.length}.log`);
  const proc = startProcess(
    `watch ${what}`,
    systemTool('kubectl'),
    ['--kubeconfig', cluster.kubeconfig, '-n', NS, 'get', what, '--watch', '-o', 'json'],
    { logFile: file },
  );
  watches.push(proc);
  const seen: Change[] = [];
  let consumed = 0;
  // Objects are printed indented, each closed by a "}" alone on a line; a state is recorded
  // when it differs from the one before.
  const refresh = () => {
    const docs = readFileSync(file, 'utf8').split(/^}$/m).slice(0, -1);
    for (const d of docs.slice(consumed)) {
      const w = weights(JSON.parse(`${d}}`) as Resource);
      if (seen.at(-1)?.weights !== w) seen.push({ seconds: (performance.now() - t0) / 1000, weights: w });
    }
    consumed = docs.length;
    return seen;
  };
  // Read every 200 ms, so that each state's time is within 0.2 s of the event.
  const timer = setInterval(refresh, 200);
  void proc.exited.then(() => clearInterval(timer));
  return { refresh, proc };
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** What Argo CD's own health check says about the Rollout as the controller left it. */
const health = async (name: string) =>
  argoCdHealth(JSON.parse(await cluster.kubectlOk(['-n', NS, 'get', 'rollout', name, '-o', 'json'])));

const rolloutField = (name: string, jsonpath: string) =>
  cluster.kubectlOk(['-n', NS, 'get', 'rollout', name, '-o', `jsonpath=${jsonpath}`]);

const newTemplate = (name: string, revision: string) =>
  cluster.kubectlOk([
    '-n',
    NS,
    'patch',
    'deployment',
    name,
    '--type=merge',
    '-p',
    JSON.stringify({
      spec: { template: { metadata: { annotations: { 'mdp.io/test-revision': revision } } } },
    }),
  ]);

// biome-ignore lint/suspicious/noExplicitAny: route objects as the API server returns them
type Any = any;
const ROUTE = (o: Resource) =>
  (o.spec.rules[0].backendRefs as Any[]).map((b) => `${b.name}=${b.weight}`).join(' ');
const VS = (o: Resource) =>
  (o.spec.http[0].route as Any[]).map((d) => `${d.destination.host}=${d.weight}`).join(' ');
const at = (stable: number, canary: number, svc: string) => `${svc}-stable=${stable} ${svc}-canary=${canary}`;

describe('traffic shifting by the real Argo Rollouts controller', { timeout: 600_000 }, () => {
  before(async () => {
    cluster = await startCluster();
    controller = await startRolloutsController(
      cluster.kubeconfig,
      path.join(cluster.dir, 'rollouts-controller.log'),
      cluster.kubectl,
    );
    const objects = await releaseObjects();
    const ns = objects.filter((i) => i.resource.kind === 'Namespace');
    const rest = objects.filter((i) => i.resource.kind !== 'Namespace');
    for (const batch of [ns, rest])
      await cluster.kubectlOk(['apply', '--server-side', '-f', '-'], {
        input: batch.map((i) => `---\n${stringify(i.resource)}`).join(''),
      });
    for (const name of RELEASED)
      await until(
        `Rollout ${name} Healthy`,
        async () => ((await rolloutField(name, '{.status.phase}')) === 'Healthy' ? true : undefined),
        180_000,
      );
  });
  after(async () => {
    for (const w of watches) await w.stop();
    await controller?.stop();
    await cluster?.stop();
  });

  test('a canary release: the controller writes 10, 50, 100 on the HTTPRoute (plugin) and the VirtualService (Istio), then hands everything to the new stable', async (t) => {
    const t0 = performance.now();
    const route = watchWeights('httproute/api-gateway', ROUTE, t0);
    const vs = watchWeights('virtualservice/order-service', VS, t0);
    await until(
      'both watches listed',
      () => (route.refresh().length && vs.refresh().length ? true : undefined),
      30_000,
    );
    assert.deepEqual(
      route.refresh().map((c) => c.weights),
      [at(100, 0, 'api-gateway')],
    );
    assert.deepEqual(
      vs.refresh().map((c) => c.weights),
      [at(100, 0, 'order-service')],
    );
    const stableBefore = await rolloutField('api-gateway', '{.status.stableRS}');
    assert.equal((await health('api-gateway')).status, 'Healthy');
    for (const name of RELEASED) await newTemplate(name, '2');
    // In the 30 s pause after the first step, Argo CD shows the application Suspended.
    await until(
      'the first pause',
      () => (route.refresh().at(-1)?.weights === at(90, 10, 'api-gateway') ? true : undefined),
      120_000,
    );
    const paused = await until(
      'Argo CD health Suspended',
      async () => {
        const h = await health('api-gateway');
        return h.status === 'Suspended' ? h : undefined;
      },
      30_000,
    );
    t.diagnostic(`Argo CD health during the pause: ${paused.status} (${paused.message ?? ''})`);
    for (const name of RELEASED)
      await until(
        `Rollout ${name} Healthy on a new stable ReplicaSet`,
        async () => {
          const [phase, stable] = [
            await rolloutField(name, '{.status.phase}'),
            await rolloutField(name, '{.status.stableRS}'),
          ];
          return phase === 'Healthy' && (name !== 'api-gateway' || stable !== stableBefore)
            ? true
            : undefined;
        },
        240_000,
      );
    // The last write (back to 100 / 0 on the new stable) may arrive just after Healthy.
    await until(
      'the routes back at 100 / 0',
      () => {
        const r = route.refresh().at(-1)?.weights;
        const v = vs.refresh().at(-1)?.weights;
        return r === at(100, 0, 'api-gateway') && v === at(100, 0, 'order-service') ? true : undefined;
      },
      60_000,
    );
    for (const [what, w] of [
      ['HTTPRoute api-gateway', route],
      ['VirtualService order-service', vs],
    ] as const)
      t.diagnostic(
        `${what}: ${w
          .refresh()
          .map((c) => `${c.seconds.toFixed(1)} s ${c.weights}`)
          .join(' | ')}`,
      );
    const expected = (svc: string) => [
      at(100, 0, svc),
      at(90, 10, svc),
      at(50, 50, svc),
      at(0, 100, svc),
      at(100, 0, svc),
    ];
    assert.deepEqual(
      route.refresh().map((c) => c.weights),
      expected('api-gateway'),
    );
    assert.deepEqual(
      vs.refresh().map((c) => c.weights),
      expected('order-service'),
    );
    for (const name of RELEASED) assert.equal((await health(name)).status, 'Healthy', name);
    // The stable and canary Services now both select the new ReplicaSet.
    const stableNow = await rolloutField('api-gateway', '{.status.stableRS}');
    for (const svc of ['api-gateway-stable', 'api-gateway-canary'])
      assert.equal(
        await cluster.kubectlOk([
          '-n',
          NS,
          'get',
          'service',
          svc,
          '-o',
          'jsonpath={.spec.selector.rollouts-pod-template-hash}',
        ]),
        stableNow,
        svc,
      );
  });

  test('an aborted canary: the controller puts every request back on stable', async (t) => {
    const t0 = performance.now();
    const route = watchWeights('httproute/api-gateway', ROUTE, t0);
    await until('the watch listed', () => (route.refresh().length ? true : undefined), 30_000);
    await newTemplate('api-gateway', '3');
    await until(
      'the first step (10 %)',
      () => (route.refresh().at(-1)?.weights === at(90, 10, 'api-gateway') ? true : undefined),
      120_000,
    );
    const abortedAt = performance.now();
    const abort = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const p = startProcess(
        'abort',
        engine('kubectl-argo-rollouts'),
        ['--kubeconfig', cluster.kubeconfig, '-n', NS, 'abort', 'api-gateway'],
        { logFile: path.join(cluster.dir, 'abort.log') },
      );
      void p.exited.then((e) => resolve({ code: e === 'exit code 0' ? 0 : 1, out: p.tail() }));
    });
    assert.equal(abort.code, 0, abort.out);
    await until(
      'the route back at 100 / 0',
      () => (route.refresh().at(-1)?.weights === at(100, 0, 'api-gateway') ? true : undefined),
      60_000,
    );
    // From the abort command to the watch seeing 100 / 0 (within the 0.2 s of the reads).
    const back = (route.refresh().at(-1)?.seconds ?? 0) - (abortedAt - t0) / 1000;
    t.diagnostic(
      `HTTPRoute api-gateway: ${route
        .refresh()
        .map((c) => `${c.seconds.toFixed(1)} s ${c.weights}`)
        .join(' | ')}; abort command -> 100/0 on stable in ${back.toFixed(1)} s`,
    );
    assert.deepEqual(
      route.refresh().map((c) => c.weights),
      [at(100, 0, 'api-gateway'), at(90, 10, 'api-gateway'), at(100, 0, 'api-gateway')],
    );
    await until(
      'Degraded',
      async () => ((await rolloutField('api-gateway', '{.status.phase}')) === 'Degraded' ? true : undefined),
      60_000,
    );
    const h = await health('api-gateway');
    t.diagnostic(`Argo CD health after the abort: ${h.status} (${h.message ?? ''})`);
    assert.equal(h.status, 'Degraded');
  });

  test("Flagger (optional component): the production overlay with Flagger is accepted by the API server with Flagger's own CRDs", async () => {
    const r = await flaggerVariant();
    assert.deepEqual(await createNamespaces(cluster.kubectl, [r]), []);
    const report = await dryRun(cluster.kubectl, r);
    assert.deepEqual(report.problems, []);
    assert.equal(report.accepted, r.items.length);
    assert.equal(r.items.filter((i) => i.resource.kind === 'Canary').length, 3);
  });
});
