/**
 * The server-side stage against a real API server (@mdp/cluster): every render is accepted, the
 * dev overlay becomes ready, and the API server (not our code) refuses unknown fields, wrong
 * types and pods below the restricted Pod Security level, each reported with file, resource
 * and rule.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
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
import type { Managed } from '@mdp/cluster/processes';
import type { Violation } from '../src/policies.js';
import type { Render } from '../src/render.js';
import { locate } from '../src/render.js';
import type { Located } from '../src/resources.js';
import {
  APPLIED_TARGET,
  createNamespaces,
  databaseTargets,
  dryRun,
  runServerStage,
  startRolloutsController,
} from '../src/server.js';
import { TARGETS } from '../src/validate.js';
import { ANALYSIS_NAMESPACE, analysisRun, judge, startAnalysisBench } from './analysis-runs.js';
import { byId, copy, rendered, repoRoot } from './helpers.js';

let cluster: Cluster;
let controller: Managed;

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

/** Runs scripts/<script> against the cluster with the engines' kubectl plugin on PATH. */
function runScript(
  script: string,
  args: string[],
): Promise<{ code: number | null; out: string; err: string }> {
  const env = {
    ...process.env,
    PATH: `${path.join(repoRoot, '.tools/bin')}:${process.env.PATH}`,
    KUBECONFIG: cluster.kubeconfig,
    ROLLOUT_POLL_SECONDS: '1',
  };
  return new Promise((resolve) => {
    const child = spawn('bash', [path.join(repoRoot, 'scripts', script), ...args], { env });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/** Points the named AnalysisTemplates' Prometheus address (their first argument) at `url`. */
async function pointTemplatesAt(namespace: string, names: string[], url: string): Promise<void> {
  for (const name of names)
    await cluster.kubectlOk([
      '-n',
      namespace,
      'patch',
      'analysistemplate.argoproj.io',
      name,
      '--type=json',
      '-p',
      JSON.stringify([{ op: 'replace', path: '/spec/args/0/value', value: url }]),
    ]);
}

describe('validate:k8s server-side stage', { timeout: 900_000 }, () => {
  before(async () => {
    cluster = await startCluster();
    // The real Argo Rollouts controller (engine argo-rollouts): the dev overlay's Rollouts must
    // become Healthy under it, not merely be accepted.
    controller = await startRolloutsController(
      cluster.kubeconfig,
      path.join(cluster.dir, 'rollouts-controller.log'),
      cluster.kubectl,
    );
    // Namespaces first, as the stage does (the dry runs below need them).
    const renders = await Promise.all(TARGETS.map((t) => rendered(t)));
    assert.deepEqual(await createNamespaces(cluster.kubectl, renders), []);
  });
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
  });

  test('every render and every datastore is accepted; the dev overlay becomes ready, its Rollouts Healthy', async () => {
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
    const stage = await runServerStage(cluster.kubectl, renders, dbRenders, { rollouts: true });
    assert.deepEqual(stage.namespaceProblems, []);
    for (const r of stage.reports) {
      assert.deepEqual(r.problems, [], r.target);
      assert.equal(r.accepted, r.documents, r.target);
      assert.ok(r.accepted > 0, r.target);
    }
    // The releases went through the same dry run: 5 Rollouts and 6 AnalysisTemplates per overlay.
    for (const r of renders.filter((x) => x.target.startsWith('deploy/overlays/'))) {
      const count = (kind: string) => r.items.filter((i) => i.resource.kind === kind).length;
      assert.equal(count('Rollout'), 5, r.target);
      assert.equal(count('AnalysisTemplate'), 6, r.target);
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
    // Under the controller: each Rollout Healthy, the Deployment it references scaled down.
    for (const name of [
      'api-gateway',
      'user-service',
      'product-service',
      'order-service',
      'notification-service',
    ]) {
      assert.match(stage.applied.workloads[`Rollout/${name}`] ?? '', /^Healthy/, name);
      assert.equal(stage.applied.workloads[`Deployment/${name}`], '0/0 ready', name);
    }
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

  test('custom resources are checked against their CRD schemas (PodMonitor, Certificate, Rollout, AnalysisTemplate)', async () => {
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
    // An AnalysisTemplate of the render with a misspelled condition field.
    const analysis = await problemsAfter((items) => {
      const m = byId(items, 'AnalysisTemplate', 'http-success-rate').resource.spec.metrics[0];
      m.successCondtion = m.successCondition;
    });
    assert.equal(analysis[0]?.file, 'deployment-strategies/analysis/prometheus.yaml');
    assert.match(analysis[0]?.message ?? '', /successCondtion: field not declared in schema/);
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

  test('the analyses, run by the real controller on a real Prometheus, pass a good version and fail bad, slow, idle, low-traffic and missing ones', async () => {
    const bench = await startAnalysisBench();
    try {
      await cluster.kubectlOk(['create', 'namespace', ANALYSIS_NAMESPACE]);
      const templates = new Map(
        (await rendered('deploy/overlays/production')).items
          .filter((i) => i.resource.kind === 'AnalysisTemplate')
          .map((i) => [i.resource.metadata.name, i.resource]),
      );
      const tmpl = (name: string) => {
        const t = templates.get(name);
        assert.ok(t, name);
        return t;
      };
      const args = (canary: string) => ({
        'prometheus-address': bench.prometheusUrl,
        service: 'order-service',
        namespace: ANALYSIS_NAMESPACE,
        'canary-hash': canary,
        'stable-hash': 'stable',
      });
      const cases: [string, string, string, string][] = [
        // run name, template, version played, expected phase
        ['sr-good', 'http-success-rate', 'good', 'Successful'],
        ['sr-bad', 'http-success-rate', 'bad', 'Failed'],
        ['sr-idle', 'http-success-rate', 'idle', 'Failed'],
        ['sr-low', 'http-success-rate', 'low', 'Failed'],
        ['sr-missing', 'http-success-rate', 'missing', 'Failed'],
        ['lat-good', 'http-latency-p99', 'good', 'Successful'],
        ['lat-slow', 'http-latency-p99', 'slow', 'Failed'],
        ['lat-missing', 'http-latency-p99', 'missing', 'Failed'],
        ['after-good', 'http-success-rate-after-switch', 'good', 'Successful'],
        ['after-bad', 'http-success-rate-after-switch', 'bad', 'Failed'],
        ['lat-after-slow', 'http-latency-p99-after-switch', 'slow', 'Failed'],
        ['consume-good', 'consume-errors', 'good', 'Successful'],
        ['consume-bad', 'consume-errors', 'bad', 'Failed'],
        ['consume-idle', 'consume-errors', 'idle', 'Failed'],
      ];
      const verdicts = await judge(
        cluster.kubectl,
        cases.map(([name, t, version]) => analysisRun(name, tmpl(t), args(version))),
      );
      for (const [name, , , expected] of cases)
        assert.equal(verdicts[name]?.phase, expected, `${name}: ${JSON.stringify(verdicts[name])}`);
      // Every metric of a good version passed; each metric of a missing or idle one failed on
      // its own (no data is a failed measurement, never Inconclusive or Error).
      for (const name of ['sr-good', 'lat-good', 'consume-good'])
        for (const m of Object.values(verdicts[name]?.metrics ?? {}))
          assert.equal(m.phase, 'Successful', name);
      for (const name of ['sr-missing', 'sr-idle', 'sr-low', 'lat-missing', 'consume-idle'])
        for (const [metric, m] of Object.entries(verdicts[name]?.metrics ?? {})) {
          assert.equal(m.phase, 'Failed', `${name}/${metric}: ${JSON.stringify(m)}`);
          assert.equal(m.value, '[]', `${name}/${metric}: an empty result`);
        }
    } finally {
      await bench.stop();
    }
  });

  test('the release scripts on the real cluster: a canary whose pods report nothing is aborted (exit 4), rollback.sh --undo restores it (exit 0)', async (t) => {
    // The dev overlay is applied (first test); its analyses ask a real Prometheus that holds no
    // series of the new pods: empty results, failed measurements, abort.
    const bench = await startAnalysisBench();
    try {
      const ns = ['-n', 'mdp-dev'];
      await pointTemplatesAt('mdp-dev', ['http-success-rate', 'http-latency-p99'], bench.prometheusUrl);
      const imageOf = () =>
        cluster.kubectlOk([
          ...ns,
          'get',
          'deployment',
          'order-service',
          '-o',
          'jsonpath={.spec.template.spec.containers[0].image}',
        ]);
      const before = await imageOf();
      const digest = `ghcr.io/mdp-example/order-service@sha256:${'0123456789abcdef'.repeat(4)}`;
      const deploy = await runScript('deploy-canary.sh', [
        ...ns,
        '--timeout',
        '240',
        'order-service',
        digest,
      ]);
      t.diagnostic(`deploy-canary.sh: exit ${deploy.code}\n${deploy.out}`);
      assert.equal(deploy.code, 4, deploy.out + deploy.err);
      assert.match(
        deploy.out,
        /order-service: Degraded Error: The rollout is in a degraded state with message: RolloutAborted/,
      );
      // The plugin set the image on the Deployment the Rollout references (workloadRef).
      assert.equal(await imageOf(), digest);
      const back = await runScript('rollback.sh', [...ns, '--undo', 'order-service']);
      t.diagnostic(`rollback.sh --undo: exit ${back.code}\n${back.out}${back.err}`);
      assert.equal(back.code, 0, back.out + back.err);
      assert.equal(await imageOf(), before);
      assert.equal(
        await cluster.kubectlOk([...ns, 'get', 'rollout', 'order-service', '-o', 'jsonpath={.status.phase}']),
        'Healthy',
      );
    } finally {
      await bench.stop();
    }
  });

  test('the release scripts on the real cluster: blue-green switches, fails its post-promotion analysis and switches back (exit 4); rollback.sh --undo (exit 0)', async (t) => {
    // dev promotes automatically. Under kwok the smoke Job's pod is completed by kwok (no
    // process runs in it): what this shows is the controller's and the script's mechanics
    // (preview, switch, post-promotion analysis on a real Prometheus without series of the new
    // pods, switch back), not the smoke test itself.
    const bench = await startAnalysisBench();
    try {
      const ns = ['-n', 'mdp-dev'];
      await pointTemplatesAt(
        'mdp-dev',
        ['http-success-rate-after-switch', 'http-latency-p99-after-switch'],
        bench.prometheusUrl,
      );
      const get = (what: string, path_: string) =>
        cluster.kubectlOk([...ns, 'get', what, '-o', `jsonpath=${path_}`]);
      const stableBefore = await get('rollout/user-service', '{.status.stableRS}');
      assert.equal(
        await get('service/user-service', '{.spec.selector.rollouts-pod-template-hash}'),
        stableBefore,
        'the active Service selects the stable ReplicaSet',
      );
      const digest = `ghcr.io/mdp-example/user-service@sha256:${'fedcba9876543210'.repeat(4)}`;
      const deploy = await runScript('deploy-blue-green.sh', [
        ...ns,
        '--timeout',
        '240',
        'user-service',
        digest,
      ]);
      t.diagnostic(`deploy-blue-green.sh: exit ${deploy.code}\n${deploy.out}`);
      assert.equal(deploy.code, 4, deploy.out + deploy.err);
      assert.match(deploy.out, /user-service: Degraded Error: .*RolloutAborted/);
      // Switched back: the active Service selects the old ReplicaSet again.
      assert.equal(
        await get('service/user-service', '{.spec.selector.rollouts-pod-template-hash}'),
        stableBefore,
      );
      const back = await runScript('rollback.sh', [...ns, '--undo', 'user-service']);
      t.diagnostic(`rollback.sh --undo: exit ${back.code}\n${back.out}${back.err}`);
      assert.equal(back.code, 0, back.out + back.err);
      assert.equal(await get('rollout/user-service', '{.status.phase}'), 'Healthy');
      assert.equal(await get('rollout/user-service', '{.status.stableRS}'), stableBefore);
    } finally {
      await bench.stop();
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
      for (const d of ['deploy', 'deployment-strategies', 'databases', 'config', 'services', 'monitoring'])
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
