/**
 * The server-side stage of npm run validate:k8s: a real API server (@mdp/cluster, with the
 * pinned CRDs) judges every render. Schemas (unknown fields are errors: fieldValidation=Strict),
 * CRD validation and Pod Security admission are the API server's own; each object that it
 * refuses, or that draws a warning (PodSecurity "would violate" on a workload), is a problem
 * that names its source file. Then the dev overlay is applied for real and every Deployment and
 * StatefulSet must reach its ready replicas (kwok plays the kubelets) and every Job must get
 * its pod.
 */
import { readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import type { Cluster } from '@mdp/cluster/cluster';
import { type Managed, startProcess } from '@mdp/cluster/processes';
import { engine } from '@mdp/cluster/tools';
import { stringify } from 'yaml';
import type { Violation } from './policies.js';
import type { Render } from './render.js';
import { type Located, podTemplate, resourceId } from './resources.js';
import { GATEWAY_API_PLUGIN } from './rules/rollout-consistent.js';

export const FIELD_MANAGER = 'mdp-validate-k8s';
/** Where the renders of databases/* (which name no namespace) are tried. */
export const DATABASES_NAMESPACE = 'mdp-databases';
/** The render that is applied for real. */
export const APPLIED_TARGET = 'deploy/overlays/dev';

/** databases/<name> folders that are kustomizations (rendered and tried on their own). */
export function databaseTargets(repoRoot: string): string[] {
  const dir = path.join(repoRoot, 'databases');
  return readdirSync(dir)
    .filter((n) => readdirSync(path.join(dir, n)).includes('kustomization.yaml'))
    .sort()
    .map((n) => `databases/${n}`);
}

export interface ServerReport {
  target: string;
  documents: number;
  /** Objects the API server accepted (server-side apply, dry run). */
  accepted: number;
  problems: Violation[];
}

export interface AppliedReport {
  target: string;
  /** kind/name -> ready replicas / wanted, or "pod created" for Jobs. */
  workloads: Record<string, string>;
  problems: Violation[];
}

type Kubectl = Cluster['kubectl'];

function problem(rule: string, item: Located, message: string): Violation {
  return { rule, file: item.file, resource: `${resourceId(item.resource)} (${item.target})`, message };
}

// kubectl reads YAML 1.1, where an unquoted `on`, `off`, `yes` or `no` is a boolean: write 1.1
// so such strings (e.g. PostgreSQL's `track_commit_timestamp: "on"`) keep their quotes.
const toYaml = (doc: unknown) => stringify(doc, { version: '1.1' });
const yamlStream = (items: Located[]) => items.map((i) => toYaml(i.resource)).join('---\n');

/** `kind.group/name` as `kubectl -o name` prints it. */
export function kubectlName(item: Located): string {
  const { apiVersion, kind, metadata } = item.resource;
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  return `${kind.toLowerCase()}${group ? `.${group}` : ''}/${metadata.name}`;
}

function dryRunArgs(namespace?: string): string[] {
  return [
    'apply',
    '--server-side',
    '--dry-run=server',
    '--validate=strict',
    `--field-manager=${FIELD_MANAGER}`,
    '--force-conflicts',
    '-o',
    'name',
    ...(namespace ? ['-n', namespace] : []),
    '-f',
    '-',
  ];
}

const warnings = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('Warning: '))
    .map((l) => l.slice('Warning: '.length));

const errors = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('Warning: '))
    .join('\n')
    .trim();

/**
 * Server-side dry run of one render. The whole render goes in one kubectl call; objects the
 * server did not list as applied are tried one by one for their own error, and so are the
 * workloads when the call drew warnings (kubectl does not say which object a warning is for).
 */
export async function dryRun(kubectl: Kubectl, render: Render, namespace?: string): Promise<ServerReport> {
  const items = render.items;
  const all = await kubectl(dryRunArgs(namespace), { input: yamlStream(items), timeoutMs: 300_000 });
  const applied = new Set(all.stdout.split('\n').map((l) => l.trim()));
  const problems: Violation[] = [];
  let accepted = 0;
  const warned = warnings(all.stderr).length > 0;
  for (const item of items) {
    const ok = applied.has(kubectlName(item));
    if (ok) accepted++;
    if (ok && !(warned && podTemplate(item.resource))) continue;
    const one = await kubectl(dryRunArgs(namespace), { input: yamlStream([item]), timeoutMs: 120_000 });
    if (one.code !== 0) problems.push(problem('api-server', item, errors(one.stderr) || 'refused'));
    for (const w of warnings(one.stderr))
      problems.push(problem(/PodSecurity/.test(w) ? 'pod-security' : 'api-server-warning', item, w));
  }
  if (all.code !== 0 && problems.length === 0) {
    problems.push({
      rule: 'api-server',
      file: render.target,
      resource: '(whole render)',
      message: errors(all.stderr) || `kubectl exited ${all.code}`,
    });
  }
  return { target: render.target, documents: items.length, accepted, problems };
}

/** The Namespaces of the renders, created for real before the dry runs (namespaced objects need them). */
export async function createNamespaces(kubectl: Kubectl, renders: Render[]): Promise<Violation[]> {
  const problems: Violation[] = [];
  const rendered = renders.flatMap((r) => r.items).filter((i) => i.resource.kind === 'Namespace');
  const names = new Set(rendered.map((i) => i.resource.metadata.name));
  const extra: Located[] = [];
  // Namespaces that objects name but no render defines (argocd: Argo CD's own install) and the
  // one the datastore renders are tried in, labelled like the platform's.
  const wanted = new Set(
    renders.flatMap((r) => r.items.map((i) => i.resource.metadata.namespace)).filter((n): n is string => !!n),
  );
  for (const ns of [...wanted, DATABASES_NAMESPACE]) {
    if (names.has(ns)) continue;
    names.add(ns);
    const labels: Record<string, string> =
      ns === DATABASES_NAMESPACE
        ? {
            'pod-security.kubernetes.io/enforce': 'restricted',
            'pod-security.kubernetes.io/warn': 'restricted',
          }
        : {};
    extra.push({
      resource: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels } },
      file: '(validate:k8s)',
      target: '(validate:k8s)',
    });
  }
  for (const item of [...rendered, ...extra]) {
    const r = await kubectl(['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', '-'], {
      input: yamlStream([item]),
    });
    if (r.code !== 0) problems.push(problem('api-server', item, errors(r.stderr)));
  }
  return problems;
}

/**
 * The storage a cluster gives StatefulSets: a StorageClass of the name the claims ask for and,
 * since no provisioner runs here, one pre-provisioned volume per claim the render will make.
 */
export function storageFor(items: Located[]): string {
  const docs: object[] = [];
  const classes = new Set<string>();
  for (const item of items) {
    const r = item.resource;
    if (r.kind !== 'StatefulSet') continue;
    const replicas = Number(r.spec?.replicas ?? 1);
    const claims = (r.spec?.volumeClaimTemplates ?? []) as {
      metadata?: { name?: string };
      spec?: {
        storageClassName?: string;
        accessModes?: string[];
        resources?: { requests?: { storage?: string } };
      };
    }[];
    for (const claim of claims) {
      const cls = claim.spec?.storageClassName ?? 'standard';
      classes.add(cls);
      for (let i = 0; i < replicas; i++) {
        const name = `pv-${r.metadata.namespace ?? 'default'}-${claim.metadata?.name}-${r.metadata.name}-${i}`;
        docs.push({
          apiVersion: 'v1',
          kind: 'PersistentVolume',
          metadata: { name },
          spec: {
            storageClassName: cls,
            capacity: { storage: claim.spec?.resources?.requests?.storage ?? '1Gi' },
            accessModes: claim.spec?.accessModes ?? ['ReadWriteOnce'],
            persistentVolumeReclaimPolicy: 'Delete',
            hostPath: { path: `/tmp/kwok-volumes/${name}` },
            claimRef: {
              namespace: r.metadata.namespace ?? 'default',
              name: `${claim.metadata?.name}-${r.metadata.name}-${i}`,
            },
          },
        });
      }
    }
  }
  for (const cls of classes) {
    docs.unshift({
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: cls },
      provisioner: 'kubernetes.io/no-provisioner',
      volumeBindingMode: 'Immediate',
    });
  }
  return docs.map(toYaml).join('---\n');
}

interface WorkloadStatus {
  kind: string;
  metadata: { name: string };
  spec?: { replicas?: number };
  status?: {
    readyReplicas?: number;
    active?: number;
    succeeded?: number;
    failed?: number;
    phase?: string;
    message?: string;
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * The real Argo Rollouts controller (the engine `argo-rollouts`, pinned in tools/argo-rollouts)
 * against a cluster, outside it (--kubeconfig), without leader election; resolves once its
 * /healthz answers. Its log is `logFile`.
 */
/** The controller's own namespace, where it reads its configuration (argo-rollouts-config). */
export const ROLLOUTS_NAMESPACE = 'argo-rollouts';

/**
 * The controller's configuration as deploy/cluster ships it, with the Gateway API plugin's
 * location pointed at the local stand-in engine (tools/gatewayapi-router) instead of the
 * upstream release, which cannot be downloaded here.
 */
export function rolloutsConfigMap(pluginPath: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'argo-rollouts-config', namespace: ROLLOUTS_NAMESPACE },
    data: {
      trafficRouterPlugins: stringify([{ name: GATEWAY_API_PLUGIN, location: `file://${pluginPath}` }]),
    },
  });
}

export async function startRolloutsController(
  kubeconfig: string,
  logFile: string,
  kubectl: Kubectl,
): Promise<Managed> {
  const [metrics, healthz] = [await freePort(), await freePort()];
  // The controller loads its traffic-router plugins once, at start, from argo-rollouts-config:
  // without it, a Rollout routed by the Gateway API plugin never gets a ReplicaSet ("plugin
  // argoproj-labs/gatewayAPI not configured in configmap").
  const ns = await kubectl(['create', 'namespace', ROLLOUTS_NAMESPACE]);
  if (ns.code !== 0 && !/AlreadyExists/.test(ns.stderr)) throw new Error(`namespace: ${errors(ns.stderr)}`);
  const cm = await kubectl(['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', '-'], {
    input: rolloutsConfigMap(engine('rollouts-gatewayapi-router')),
  });
  if (cm.code !== 0) throw new Error(`argo-rollouts-config: ${errors(cm.stderr)}`);
  const proc = startProcess(
    'rollouts-controller',
    engine('rollouts-controller'),
    [
      '--kubeconfig',
      kubeconfig,
      '--leader-elect=false',
      `--metricsPort=${metrics}`,
      `--healthzPort=${healthz}`,
      '--loglevel=info',
    ],
    {
      logFile,
      // Plugins are copied to ./plugin-bin and reach the API server by KUBECONFIG.
      cwd: path.dirname(logFile),
      env: { ...process.env, KUBECONFIG: kubeconfig, POD_NAMESPACE: ROLLOUTS_NAMESPACE },
    },
  );
  const deadline = Date.now() + 60_000;
  let exited: string | undefined;
  void proc.exited.then((e) => {
    exited = e;
  });
  for (;;) {
    if (exited) throw new Error(`rollouts-controller ended (${exited}):\n${proc.tail()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${healthz}/healthz`);
      if (res.ok) return proc;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`rollouts-controller: no /healthz within 60 s:\n${proc.tail()}`);
    }
    await new Promise((res) => setTimeout(res, 250));
  }
}

/**
 * Applies a render for real and waits until every Deployment and StatefulSet has its ready
 * replicas and every Job has started or finished a pod (timeoutMs), reporting the ones that
 * did not with the cluster's events about them. With `rollouts` (an Argo Rollouts controller
 * runs against the cluster), every Rollout must also reach phase Healthy; the Deployments the
 * Rollouts reference are then scaled to 0 by the controller (ready 0 of 0).
 */
export async function applyForReal(
  kubectl: Kubectl,
  render: Render,
  timeoutMs = 240_000,
  rollouts = false,
): Promise<AppliedReport> {
  const problems: Violation[] = [];
  const storage = storageFor(render.items);
  if (storage) {
    const s = await kubectl(['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', '-'], {
      input: storage,
    });
    if (s.code !== 0) throw new Error(`storage for ${render.target}: ${errors(s.stderr)}`);
  }
  const r = await kubectl(['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', '-'], {
    input: yamlStream(render.items),
    timeoutMs: 300_000,
  });
  if (r.code !== 0) {
    return {
      target: render.target,
      workloads: {},
      problems: [
        { rule: 'api-server', file: render.target, resource: '(whole render)', message: errors(r.stderr) },
      ],
    };
  }
  const namespaces = [
    ...new Set(render.items.map((i) => i.resource.metadata.namespace).filter((n): n is string => !!n)),
  ];
  const kinds = ['Deployment', 'StatefulSet', 'Job', ...(rollouts ? ['Rollout'] : [])];
  const wanted = render.items.filter((i) => kinds.includes(i.resource.kind));
  const state = new Map<string, string>();
  const finished = new Set<string>();
  // The Deployments a Rollout references (workloadRef): the controller scales them down as the
  // Rollout's own pods come up (scaleDown: progressively), so one that still has replicas is not
  // done yet, even while its Rollout already reports Healthy.
  const referenced = new Set(
    rollouts
      ? render.items
          .filter((i) => i.resource.kind === 'Rollout')
          .map(
            (i) =>
              (i.resource.spec as { workloadRef?: { kind?: string; name?: string } } | undefined)
                ?.workloadRef,
          )
          .filter((ref) => ref?.kind === 'Deployment' && ref.name)
          .map((ref) => ref?.name as string)
      : [],
  );
  const done = (w: WorkloadStatus): boolean => {
    if (w.kind === 'Job')
      return (w.status?.active ?? 0) + (w.status?.succeeded ?? 0) + (w.status?.failed ?? 0) > 0;
    if (w.kind === 'Rollout') return w.status?.phase === 'Healthy';
    if (w.kind === 'Deployment' && referenced.has(w.metadata.name))
      return w.spec?.replicas === 0 && (w.status?.readyReplicas ?? 0) === 0;
    // Any other Deployment scaled to 0 is done when its last pod has left, not merely when 0
    // are wanted.
    if (w.spec?.replicas === 0) return (w.status?.readyReplicas ?? 0) === 0;
    return (w.status?.readyReplicas ?? 0) >= (w.spec?.replicas ?? 1);
  };
  const describe = (w: WorkloadStatus) =>
    w.kind === 'Job'
      ? `active ${w.status?.active ?? 0}, succeeded ${w.status?.succeeded ?? 0}, failed ${w.status?.failed ?? 0}`
      : w.kind === 'Rollout'
        ? `${w.status?.phase ?? 'no status'}${w.status?.message ? ` (${w.status.message})` : ''}, ${w.status?.readyReplicas ?? 0}/${w.spec?.replicas ?? 1} ready`
        : `${w.status?.readyReplicas ?? 0}/${w.spec?.replicas ?? 1} ready`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    state.clear();
    finished.clear();
    for (const ns of namespaces) {
      const got = await kubectl([
        'get',
        `deployments,statefulsets,jobs${rollouts ? ',rollouts.argoproj.io' : ''}`,
        '-n',
        ns,
        '-o',
        'json',
      ]);
      if (got.code !== 0) continue;
      for (const w of (JSON.parse(got.stdout) as { items: WorkloadStatus[] }).items) {
        state.set(`${w.kind}/${w.metadata.name}`, describe(w));
        if (done(w)) finished.add(`${w.kind}/${w.metadata.name}`);
      }
    }
    if (wanted.every((i) => finished.has(`${i.resource.kind}/${i.resource.metadata.name}`))) break;
    if (Date.now() > deadline) {
      for (const item of wanted) {
        const key = `${item.resource.kind}/${item.resource.metadata.name}`;
        if (finished.has(key)) continue;
        const now = state.get(key);
        const ns = item.resource.metadata.namespace ?? 'default';
        const events = await kubectl([
          'get',
          'events',
          '-n',
          ns,
          '--field-selector',
          `involvedObject.name=${item.resource.metadata.name}`,
          '-o',
          'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}',
        ]);
        problems.push(
          problem(
            'applied-ready',
            item,
            `not ready after ${timeoutMs / 1000} s (${now ?? 'not created'}): ${events.stdout.trim().split('\n').slice(-3).join('; ')}`,
          ),
        );
      }
      break;
    }
    await new Promise((res) => setTimeout(res, 1000));
  }
  const workloads: Record<string, string> = {};
  for (const item of wanted) {
    const key = `${item.resource.kind}/${item.resource.metadata.name}`;
    workloads[key] = state.get(key) ?? 'not created';
  }
  return { target: render.target, workloads, problems };
}

export interface ServerStage {
  reports: ServerReport[];
  namespaceProblems: Violation[];
  applied?: AppliedReport;
  /** Seconds: cluster start (0 with a given cluster), dry runs, real apply. */
  timings: { cluster: number; dryRun: number; apply: number };
}

/**
 * Runs the stage against `kubectl` (a cluster that has the CRDs of @mdp/cluster installed).
 * `dbRenders` are tried in DATABASES_NAMESPACE; APPLIED_TARGET, when among `renders`, is then
 * applied for real.
 */
export async function runServerStage(
  kubectl: Kubectl,
  renders: Render[],
  dbRenders: Render[],
  opts: { rollouts?: boolean } = {},
): Promise<Omit<ServerStage, 'timings'> & { timings: { dryRun: number; apply: number } }> {
  let t = performance.now();
  const lap = () => {
    const now = performance.now();
    const s = Number(((now - t) / 1000).toFixed(1));
    t = now;
    return s;
  };
  const namespaceProblems = await createNamespaces(kubectl, [...renders, ...dbRenders]);
  // Dry runs change nothing, so the renders go in side by side.
  const reports = await Promise.all([
    ...renders.map((r) => dryRun(kubectl, r)),
    ...dbRenders.map((r) => dryRun(kubectl, r, DATABASES_NAMESPACE)),
  ]);
  const dryRunSeconds = lap();
  const dev = renders.find((r) => r.target === APPLIED_TARGET);
  const applied = dev ? await applyForReal(kubectl, dev, 240_000, opts.rollouts ?? false) : undefined;
  return { reports, namespaceProblems, applied, timings: { dryRun: dryRunSeconds, apply: lap() } };
}
