/**
 * The local cluster: a real control plane from the pinned engines. The pods of a Deployment
 * become Ready on kwok's fake nodes, a Job's pod succeeds, the pinned CRDs are served, and
 * stop() leaves no process behind. (StatefulSets with volume claims: npm run validate:k8s.)
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { type Cluster, startCluster } from '../src/cluster.js';
import { CRD_SOURCES, crdFiles, versionOf } from '../src/crds.js';
import { pinnedVersion } from '../src/tools.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const restrictedPod = {
  securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
  containers: [
    {
      name: 'main',
      image: 'registry.example/app:1.0.0',
      securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
    },
  ],
};

const objects = (ns: string) =>
  [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: ns },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: restrictedPod },
      },
    },
    {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'once', namespace: ns },
      spec: { template: { spec: { ...restrictedPod, restartPolicy: 'Never' } } },
    },
  ]
    .map((o) => stringify(o))
    .join('---\n');

describe('local cluster', { timeout: 600_000 }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    await cluster?.stop();
  });

  test('serves the pinned Kubernetes version with every CRD of the table established', async () => {
    const version = JSON.parse((await cluster.get('/version')).body) as { gitVersion: string };
    assert.equal(version.gitVersion, pinnedVersion('kubernetes', 'k8s.io/kubernetes'));
    const established = JSON.parse(await cluster.kubectlOk(['get', 'crd', '-o', 'json'])) as {
      items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[] } }[];
    };
    const ready = new Set(
      established.items
        .filter((c) => c.status.conditions.some((x) => x.type === 'Established' && x.status === 'True'))
        .map((c) => c.metadata.name),
    );
    for (const source of CRD_SOURCES) {
      for (const f of await crdFiles(source)) {
        for (const name of f.names)
          assert.ok(ready.has(name), `${name} (${source.name} ${versionOf(source)})`);
      }
    }
    for (const n of ['rollouts.argoproj.io', 'applications.argoproj.io', 'certificates.cert-manager.io'])
      assert.ok(ready.has(n), n);
  });

  test('a Deployment becomes Ready and a Job completes on the fake nodes', async () => {
    await cluster.kubectlOk(['apply', '--server-side', '-f', '-'], { input: objects('cluster-test') });
    await cluster.kubectlOk(
      [
        '-n',
        'cluster-test',
        'wait',
        '--for=jsonpath={.status.readyReplicas}=2',
        'deployment/web',
        '--timeout=180s',
      ],
      { timeoutMs: 200_000 },
    );
    await cluster.kubectlOk(
      ['-n', 'cluster-test', 'wait', '--for=condition=Complete', 'job/once', '--timeout=180s'],
      { timeoutMs: 200_000 },
    );
    const nodes = (
      await cluster.kubectlOk([
        '-n',
        'cluster-test',
        'get',
        'pods',
        '-o',
        'jsonpath={.items[*].spec.nodeName}',
      ])
    )
      .trim()
      .split(/\s+/);
    assert.equal(nodes.length, 3);
    for (const n of nodes) assert.match(n, /^kwok-node-\d$/);
  });

  test('stop() ends every process it started and removes its directory', async () => {
    const pids = cluster.processes.map((p) => p.pid);
    assert.deepEqual(
      cluster.processes.map((p) => p.name),
      ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'],
    );
    for (const pid of pids) assert.ok(alive(pid), `pid ${pid} runs before stop()`);
    await cluster.stop();
    for (const pid of pids) assert.ok(!alive(pid), `pid ${pid} still runs after stop()`);
    assert.ok(!existsSync(cluster.dir));
  });
});
