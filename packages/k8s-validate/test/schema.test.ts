import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDocuments } from '../src/resources.js';
import { validateStrict } from '../src/schema.js';
import { byId, copy, rendered } from './helpers.js';

const deployment = () => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', labels: { 'any.label/key': 'ok' } },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        containers: [
          {
            name: 'web',
            image: 'ghcr.io/o/api-gateway:1.0.0',
            resources: { limits: { cpu: '1', memory: '1Gi' } },
            securityContext: { readOnlyRootFilesystem: true },
          },
        ],
      },
    },
  },
});

const REMOVE = Symbol('remove');

/** Sets (or with REMOVE deletes) the value at a path inside a plain object. */
function edit(obj: unknown, path: (string | number)[], value: unknown): void {
  let node = obj as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (value === REMOVE) delete node[last];
  else node[last] = value;
}

async function paths(obj: unknown): Promise<string[]> {
  return (await validateStrict(obj)).map((i) => `${i.path} ${i.message}`);
}

describe('strict schema validation', () => {
  test('a valid Deployment passes, with free-form keys in maps (labels, resources)', async () => {
    assert.deepEqual(await paths(deployment()), []);
  });

  test('a misspelled field in spec is rejected (replica for replicas)', async () => {
    const d = deployment();
    edit(d, ['spec', 'replica'], 2);
    edit(d, ['spec', 'replicas'], REMOVE);
    assert.deepEqual(await paths(d), ['/spec/replica unknown field (not in the schema)']);
  });

  test('a misspelled field deep in a container is rejected', async () => {
    const d = deployment();
    edit(d, ['spec', 'template', 'spec', 'containers', 0, 'securityContext'], {
      readOnlyRootFilesytem: true,
    });
    assert.deepEqual(await paths(d), [
      '/spec/template/spec/containers/0/securityContext/readOnlyRootFilesytem unknown field (not in the schema)',
    ]);
  });

  test('a misspelled top-level field is rejected (metdata), as is the missing required one', async () => {
    const issues = await paths({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metdata: { name: 'x' },
      data: { a: 'b' },
    });
    assert.ok(issues.includes('/metdata unknown field (not in the schema)'), issues.join('\n'));
  });

  test('a wrong type is rejected (replicas as a string)', async () => {
    const d = deployment();
    edit(d, ['spec', 'replicas'], '2');
    const issues = await paths(d);
    assert.equal(issues.length, 1, issues.join('\n'));
    assert.match(issues[0] ?? '', /^\/spec\/replicas must be integer/);
  });

  test('a bad enum value is rejected (Service type)', async () => {
    const issues = await validateStrict({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's' },
      spec: { type: 'ClusterIp', ports: [{ port: 80 }] },
    });
    assert.equal(issues.length, 1);
    assert.equal(issues[0]?.path, '/spec/type');
  });

  test('an unknown kind or API version is rejected, not skipped', async () => {
    const issues = await paths({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } });
    assert.equal(issues.length, 1);
    assert.match(issues[0] ?? '', /no schema known for example.com\/v1 Widget/);
    const old = await paths({
      apiVersion: 'extensions/v1beta2',
      kind: 'Deployment',
      metadata: { name: 'w' },
    });
    assert.match(old[0] ?? '', /no schema known/);
  });

  test('CRDs: a PodMonitor with a misspelled relabeling field is rejected', async () => {
    const pm = {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PodMonitor',
      metadata: { name: 'pm' },
      spec: {
        selector: { matchLabels: { a: 'b' } },
        podMetricsEndpoints: [
          { port: 'http', relabelings: [{ sourceLabels: ['x'], targetLabel: 'app', acton: 'replace' }] },
        ],
      },
    };
    assert.deepEqual(await paths(pm), [
      '/spec/podMetricsEndpoints/0/relabelings/0/acton unknown field (not in the schema)',
    ]);
  });

  test('operator CRDs from their Go modules: CloudNativePG Cluster and RabbitmqCluster typos and bad values are rejected', async () => {
    const prod = await rendered('deploy/overlays/production');
    const cluster = structuredClone(byId(prod.items, 'Cluster', 'postgresql').resource);
    assert.deepEqual(await paths(cluster), []);
    cluster.spec.postgresql.synchronous.methd = 'any';
    (cluster.metadata as Record<string, unknown>).lables = { a: 'b' };
    assert.deepEqual((await paths(cluster)).sort(), [
      '/metadata/lables unknown field (not in the schema)',
      '/metadata/lables/a unknown field (not in the schema)',
      '/spec/postgresql/synchronous/methd unknown field (not in the schema)',
    ]);
    const bad = structuredClone(byId(prod.items, 'Cluster', 'postgresql').resource);
    bad.spec.postgresql.synchronous.method = 'all';
    assert.ok((await paths(bad)).some((p) => p.startsWith('/spec/postgresql/synchronous/method')));
    const rabbit = structuredClone(byId(prod.items, 'RabbitmqCluster', 'rabbitmq').resource);
    assert.deepEqual(await paths(rabbit), []);
    rabbit.spec.replica = 3;
    assert.deepEqual(await paths(rabbit), ['/spec/replica unknown field (not in the schema)']);
  });

  test('CRDs: cert-manager Certificate and ClusterIssuer typos are rejected', async () => {
    const cert = {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: 'c' },
      spec: { secretName: 's', dnsName: ['a.example.com'], issuerRef: { name: 'i', kind: 'ClusterIssuer' } },
    };
    assert.deepEqual(await paths(cert), ['/spec/dnsName unknown field (not in the schema)']);
    const issuer = {
      apiVersion: 'cert-manager.io/v1',
      kind: 'ClusterIssuer',
      metadata: { name: 'i' },
      spec: { selfSigned: {}, acmee: {} },
    };
    assert.deepEqual(await paths(issuer), ['/spec/acmee unknown field (not in the schema)']);
  });

  test('CRDs: Argo CD Application and AppProject typos are rejected', async () => {
    const app = {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: { name: 'a' },
      spec: {
        project: 'p',
        destination: { server: 'https://kubernetes.default.svc' },
        source: { repoURL: 'https://example.com/r.git', path: 'x' },
        syncPolicy: { automated: { prune: true, selfHeal: true }, syncOption: ['PruneLast=true'] },
      },
    };
    assert.deepEqual(await paths(app), ['/spec/syncPolicy/syncOption unknown field (not in the schema)']);
    const project = {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AppProject',
      metadata: { name: 'p' },
      spec: { sourceRepo: ['x'] },
    };
    assert.deepEqual(await paths(project), ['/spec/sourceRepo unknown field (not in the schema)']);
  });

  test('CRDs: an Argo Rollouts Rollout typo is rejected (ready for the Rollout conversion)', async () => {
    const rollout = {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Rollout',
      metadata: { name: 'r' },
      spec: { strategy: { canary: { stepz: [] } } },
    };
    assert.deepEqual(await paths(rollout), ['/spec/strategy/canary/stepz unknown field (not in the schema)']);
  });

  test('every document of the dev render passes; one injected typo in the real dev render fails', async () => {
    const r = await rendered('deploy/overlays/dev');
    for (const item of r.items) assert.deepEqual(await validateStrict(item.resource), [], item.file);
    const items = copy(r.items);
    const gw = byId(items, 'Deployment', 'api-gateway');
    gw.resource.spec.template.spec.containers[0].livenessProbe.httpGet.paht = '/healthz';
    const issues = await paths(gw.resource);
    assert.deepEqual(issues, [
      '/spec/template/spec/containers/0/livenessProbe/httpGet/paht unknown field (not in the schema)',
    ]);
  });

  test('a YAML typo in indentation turns into an unknown field, not a silent pass', async () => {
    const [svc] = parseDocuments(`apiVersion: v1
kind: Service
metadata:
  name: s
spec:
  selector:
    app: x
  ports:
    - port: 80
  targetPort: http
`);
    assert.deepEqual(await paths(svc), ['/spec/targetPort unknown field (not in the schema)']);
  });
});
