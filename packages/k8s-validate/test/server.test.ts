/**
 * The server-side stage against a real API server (@mdp/cluster): every render is accepted, the
 * dev overlay becomes ready, and the API server (not our code) refuses unknown fields, wrong
 * types and pods below the restricted Pod Security level, each reported with file, resource
 * and rule.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Cluster, startCluster } from '@mdp/cluster/cluster';
import type { Violation } from '../src/policies.js';
import type { Render } from '../src/render.js';
import { locate } from '../src/render.js';
import type { Located } from '../src/resources.js';
import { APPLIED_TARGET, createNamespaces, databaseTargets, dryRun, runServerStage } from '../src/server.js';
import { TARGETS } from '../src/validate.js';
import { byId, copy, rendered, repoRoot } from './helpers.js';

let cluster: Cluster;

const dev = () => rendered(APPLIED_TARGET);
const gw = (items: Located[]) => byId(items, 'Deployment', 'api-gateway').resource;
const gwContainer = (items: Located[]) => gw(items).spec.template.spec.containers[0];

/** Dry-runs the dev render after `edit` changed a copy of it; the problems it draws. */
// biome-ignore lint/suspicious/noConfusingVoidType: an edit changes the objects in place or returns new ones
async function problemsAfter(edit: (items: Located[]) => Located[] | undefined | void): Promise<Violation[]> {
  const base = await dev();
  const items = copy(base.items);
  const edited = edit(items) ?? items;
  // Only what the edit changed or added goes to the API server (the rest is the first test's).
  const unchanged = new Set(base.items.map((i) => JSON.stringify(i.resource)));
  const changed = edited.filter((i) => !unchanged.has(JSON.stringify(i.resource)));
  assert.ok(changed.length > 0, 'the edit changed nothing');
  const render: Render = { ...base, items: changed };
  return (await dryRun(cluster.kubectl, render)).problems;
}

describe('validate:k8s server-side stage', { timeout: 900_000 }, () => {
  before(async () => {
    cluster = await startCluster();
    // Namespaces first, as the stage does (the dry runs below need them).
    const renders = await Promise.all(TARGETS.map((t) => rendered(t)));
    assert.deepEqual(await createNamespaces(cluster.kubectl, renders), []);
  });
  after(async () => {
    await cluster?.stop();
  });

  test('every render and every datastore is accepted; the dev overlay becomes ready', async () => {
    const renders = await Promise.all(TARGETS.map((t) => rendered(t)));
    const dbRenders = await Promise.all(databaseTargets(repoRoot).map((t) => rendered(t)));
    // Every datastore folder with a kustomization is judged (single and HA variants alike).
    assert.deepEqual(
      dbRenders.map((r) => r.target).sort(),
      readdirSync(path.join(repoRoot, 'databases'))
        .filter((d) => existsSync(path.join(repoRoot, 'databases', d, 'kustomization.yaml')))
        .map((d) => `databases/${d}`)
        .sort(),
    );
    assert.ok(dbRenders.length >= 8, 'mongodb, postgresql(-ha), rabbitmq(-ha), redis(-ha, -cache)');
    const stage = await runServerStage(cluster.kubectl, renders, dbRenders);
    assert.deepEqual(stage.namespaceProblems, []);
    for (const r of stage.reports) {
      assert.deepEqual(r.problems, [], r.target);
      assert.equal(r.accepted, r.documents, r.target);
      assert.ok(r.accepted > 0, r.target);
    }
    assert.ok(stage.applied);
    assert.deepEqual(stage.applied.problems, []);
    const workloads = Object.keys(stage.applied.workloads);
    for (const name of [
      'api-gateway',
      'user-service',
      'product-service',
      'order-service',
      'notification-service',
    ])
      assert.ok(workloads.includes(`Deployment/${name}`), name);
    for (const name of ['postgresql', 'mongodb', 'redis', 'rabbitmq'])
      assert.match(stage.applied.workloads[`StatefulSet/${name}`] ?? '', /^(\d+)\/\1 ready$/, name);
    assert.ok(workloads.filter((w) => w.startsWith('Job/')).length >= 4);
  });

  test('an unknown field is refused by the API server, naming the file and the resource', async () => {
    const problems = await problemsAfter((items) => {
      const d = gw(items);
      d.spec.replica = 2;
    });
    assert.equal(problems.length, 1, JSON.stringify(problems));
    const [p] = problems;
    assert.equal(p?.rule, 'api-server');
    assert.equal(p?.file, 'deploy/base/api-gateway/deployment.yaml');
    assert.equal(p?.resource, 'Deployment/mdp-dev/api-gateway (deploy/overlays/dev)');
    assert.match(p?.message ?? '', /\.spec\.replica: field not declared in schema/);
  });

  test('a misspelled field deep in a container, a wrong type and a YAML indentation slip are refused', async () => {
    const deep = await problemsAfter((items) => {
      gwContainer(items).livenessProbe.httpGet.paht = '/healthz';
    });
    assert.match(
      deep[0]?.message ?? '',
      /\.spec\.template\.spec\.containers\[name="api-gateway"\]\.livenessProbe\.httpGet\.paht: field not declared in schema/,
    );
    const wrongType = await problemsAfter((items) => {
      byId(items, 'StatefulSet', 'redis').resource.spec.replicas = 'one';
    });
    assert.equal(wrongType[0]?.resource, 'StatefulSet/mdp-dev/redis (deploy/overlays/dev)');
    assert.match(wrongType[0]?.message ?? '', /replicas/);
    const indentation = await problemsAfter(() =>
      locate(
        'apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  namespace: mdp-dev\nspec:\n  selector:\n    app: x\n  ports:\n    - port: 80\n  targetPort: http\n',
        'fixture.yaml',
      ),
    );
    assert.match(indentation[0]?.message ?? '', /\.spec\.targetPort: field not declared in schema/);
  });

  test('custom resources are checked against their CRD schemas (PodMonitor, Certificate, Rollout)', async () => {
    const monitor = await problemsAfter((items) => {
      byId(items, 'PodMonitor', 'api-gateway').resource.spec.podMetricsEndpoint = [];
    });
    assert.match(monitor[0]?.message ?? '', /\.spec\.podMetricsEndpoint: field not declared in schema/);
    const cert = await problemsAfter((items) => {
      byId(items, 'Certificate', 'api-gateway-tls').resource.spec.dnsNames = 'mdp.localtest.me';
    });
    assert.match(cert[0]?.message ?? '', /dnsNames/);
    const rollout = await problemsAfter(() =>
      locate(
        'apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: r\n  namespace: mdp-dev\nspec:\n  selector:\n    matchLabels: {app: r}\n  template:\n    metadata:\n      labels: {app: r}\n    spec:\n      containers: [{name: r, image: "ghcr.io/o/api-gateway:1.0.0"}]\n  strategy:\n    canary:\n      stepz: []\n',
        'fixture.yaml',
      ),
    );
    assert.match(rollout[0]?.message ?? '', /\.spec\.strategy\.canary\.stepz: field not declared in schema/);
  });

  test('Pod Security "restricted": the API server refuses such a pod and warns on such a workload', async () => {
    // A bare Pod below the level is refused outright.
    const pod = await problemsAfter((items) => {
      const template = gw(items).spec.template;
      template.spec.hostNetwork = true;
      // The namespace's default ServiceAccount (its own exists only once the dev overlay is applied).
      delete template.spec.serviceAccountName;
      return [
        {
          resource: {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { ...template.metadata, name: 'p', namespace: 'mdp-dev' },
            spec: template.spec,
          },
          file: 'fixture.yaml',
          target: APPLIED_TARGET,
        },
      ];
    });
    assert.equal(pod[0]?.rule, 'api-server');
    assert.match(
      pod[0]?.message ?? '',
      /violates PodSecurity "restricted:latest": host namespaces \(hostNetwork=true\)/,
    );

    // A workload whose template is below the level: the namespace's warn label makes the API
    // server say so; the stage reports it.
    const breakers: [string, (items: Located[]) => void, RegExp][] = [
      [
        'privilege escalation',
        (i) => {
          gwContainer(i).securityContext.allowPrivilegeEscalation = true;
        },
        /allowPrivilegeEscalation != false/,
      ],
      [
        'no seccomp profile',
        (i) => {
          delete gw(i).spec.template.spec.securityContext.seccompProfile;
        },
        /seccompProfile/,
      ],
      [
        'capabilities not dropped',
        (i) => {
          gwContainer(i).securityContext.capabilities.drop = ['NET_RAW'];
        },
        /unrestricted capabilities/,
      ],
      [
        'runs as root',
        (i) => {
          gw(i).spec.template.spec.securityContext.runAsUser = 0;
        },
        /runAsUser=0/,
      ],
      [
        'may run as root',
        (i) => {
          delete gw(i).spec.template.spec.securityContext.runAsNonRoot;
          delete gwContainer(i).securityContext.runAsNonRoot;
        },
        /runAsNonRoot != true/,
      ],
      [
        'a hostPath volume',
        (i) =>
          void gw(i).spec.template.spec.volumes.push({
            name: 'docker',
            hostPath: { path: '/var/run/docker.sock' },
          }),
        /volume "docker" uses restricted volume type "hostPath"/,
      ],
    ];
    for (const [name, edit, expect] of breakers) {
      const problems = await problemsAfter(edit);
      const p = problems.find((x) => x.rule === 'pod-security');
      assert.ok(p, `${name}: ${JSON.stringify(problems)}`);
      assert.equal(p.resource, 'Deployment/mdp-dev/api-gateway (deploy/overlays/dev)', name);
      assert.match(p.message, expect, name);
    }
  });

  test('the Secrets scripts/k8s/create-secrets.sh makes are accepted', async () => {
    const out = execFileSync(
      'bash',
      [path.join(repoRoot, 'scripts/k8s/create-secrets.sh'), 'mdp-dev', '--dry-run'],
      {
        encoding: 'utf8',
      },
    );
    const items = locate(out, 'scripts/k8s/create-secrets.sh');
    const report = await dryRun(cluster.kubectl, {
      target: 'create-secrets',
      text: out,
      items,
      deterministic: true,
    });
    assert.deepEqual(report.problems, []);
    assert.equal(report.accepted, items.length);
  });

  test('npm run validate:k8s fails on a typo in a base file, naming file, resource and rule', () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'k8s-validate-cli-'));
    try {
      for (const d of ['deploy', 'databases', 'config', 'services', 'monitoring'])
        cpSync(path.join(repoRoot, d), path.join(tmp, d), {
          recursive: true,
          filter: (src) => !src.includes('node_modules'),
        });
      // The services' config schemas import their dependencies from the repository's node_modules.
      symlinkSync(path.join(repoRoot, 'node_modules'), path.join(tmp, 'node_modules'));
      const file = path.join(tmp, 'deploy/base/order-service/deployment.yaml');
      writeFileSync(file, readFileSync(file, 'utf8').replace('serviceAccountName:', 'serviceAcountName:'));
      const cli = path.join(repoRoot, 'packages/k8s-validate/src/cli.ts');
      const res = spawnSync(
        process.execPath,
        [
          '--conditions=mdp-source',
          '--import',
          'tsx',
          cli,
          '--root',
          tmp,
          '--kubeconfig',
          cluster.kubeconfig,
          'deploy/overlays/staging',
        ],
        { cwd: repoRoot, encoding: 'utf8' },
      );
      assert.equal(res.status, 1, res.stdout + res.stderr);
      const lines = res.stdout.split('\n');
      const at = lines.indexOf('file: deploy/base/order-service/deployment.yaml');
      assert.ok(at >= 0, res.stdout);
      assert.equal(lines[at + 1], 'resource: Deployment/mdp-staging/order-service (deploy/overlays/staging)');
      assert.match(
        lines[at + 2] ?? '',
        /^rule: api-server: .*\.spec\.template\.spec\.serviceAcountName: field not declared in schema/,
      );
      // Every rendered object but the broken one is accepted (the count follows the render).
      const documents = Number(/ok {3}deploy\/overlays\/staging: (\d+) documents/.exec(res.stdout)?.[1]);
      assert.ok(documents > 0, res.stdout);
      assert.ok(
        res.stdout.includes(
          `FAIL server deploy/overlays/staging: ${documents - 1} of ${documents} objects accepted (dry run), 1 problem(s)`,
        ),
        res.stdout,
      );
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
