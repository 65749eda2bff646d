/**
 * The GitOps side of the promotion test:
 *  - `origin`: a bare clone of this repository at HEAD (branch main), standing in for GitHub;
 *  - `checkout`: the workflows' checkout of it, where the pipeline's own commands run
 *    (`npm run promote`, scripts/pipeline/*.sh; their pushes go to `origin`);
 *  - `argoSync()`: what Argo CD does for an Application (deploy/argocd/applications.yaml) when it
 *    syncs: fetch `origin`, render the overlay with Kustomize (`kubectl kustomize`, the same
 *    Kustomize v5 Argo CD runs) and apply the render to the cluster in Argo CD's order (phase Sync,
 *    then sync wave, then kind, then name; each wave's workloads healthy before the next starts; a
 *    Sync hook with hook-delete-policy BeforeHookCreation deleted and created again), server-side
 *    with Argo CD's field manager. A real Argo CD cannot be built here (not among the project's
 *    engines); this is the nearest real thing: its ordering rules, the real API server and
 *    controllers. It does not prune (no sync of this test removes an object) and has no self-heal loop:
 *    the test calls it where the automated (staging) or manual (production) sync would happen.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Cluster } from '@mdp/cluster/cluster';
import type { Resource } from '@mdp/k8s-validate/resources';
import { storageFor } from '@mdp/k8s-validate/server';
import { parseAllDocuments, parseDocument, stringify, YAMLMap, YAMLSeq } from 'yaml';

const exec = promisify(execFile);

export const GIT_ENV = {
  GIT_AUTHOR_NAME: 'e2e pipeline',
  GIT_AUTHOR_EMAIL: 'pipeline@e2e.invalid',
  GIT_COMMITTER_NAME: 'e2e pipeline',
  GIT_COMMITTER_EMAIL: 'pipeline@e2e.invalid',
};

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; never throws on a non-zero exit (timeout: 5 min unless told). */
export function command(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      {
        cwd: opts.cwd,
        env: { ...process.env, ...GIT_ENV, ...opts.env },
        maxBuffer: 64 * 1024 * 1024,
        timeout: opts.timeoutMs ?? 300_000,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export async function mustCommand(
  cmd: string,
  args: string[],
  opts: Parameters<typeof command>[2] = {},
): Promise<string> {
  const r = await command(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

export interface GitOps {
  origin: string;
  checkout: string;
  git(args: string[], cwd?: string): Promise<string>;
  /** HEAD of origin's main. */
  originHead(): Promise<string>;
  /** The checkout catches up with origin (a new workflow job's checkout of main). */
  pull(): Promise<void>;
}

export async function gitOps(root: string, work: string): Promise<GitOps> {
  const origin = path.join(work, 'origin.git');
  const checkout = path.join(work, 'checkout');
  const git = (args: string[], cwd = checkout) => mustCommand('git', args, { cwd });
  const head = (await git(['rev-parse', 'HEAD'], root)).trim();
  await git(['clone', '--quiet', '--bare', '--no-tags', root, origin], work);
  await git(['update-ref', 'refs/heads/main', head], origin);
  await git(['symbolic-ref', 'HEAD', 'refs/heads/main'], origin);
  await git(['clone', '--quiet', '--branch', 'main', origin, checkout], work);
  // The npm scripts of the checkout run with this repository's installed packages.
  symlinkSync(path.join(root, 'node_modules'), path.join(checkout, 'node_modules'));
  return {
    origin,
    checkout,
    git,
    originHead: async () => (await git(['rev-parse', 'refs/heads/main'], origin)).trim(),
    pull: async () => {
      await git(['pull', '--quiet', '--ff-only', 'origin', 'main']);
    },
  };
}

/**
 * This environment's settings, committed as a fork would: the image owner of the staging and
 * production overlays (the one place it is set) becomes the run's registry, and the Prometheus
 * address of the analyses (the overlay patch deployment-strategies/README.md shows) the run's
 * Prometheus.
 */
export async function configureEnvironment(
  g: GitOps,
  settings: { imagePrefix: string; prometheusUrl: string },
): Promise<void> {
  for (const env of ['staging', 'production']) {
    const file = path.join(g.checkout, 'deploy/overlays', env, 'kustomization.yaml');
    const doc = parseDocument(readFileSync(file, 'utf8'));
    const images = doc.get('images');
    if (!(images instanceof YAMLSeq)) throw new Error(`${file}: no images:`);
    for (const item of images.items)
      if (item instanceof YAMLMap) item.set('newName', `${settings.imagePrefix}/${item.get('name')}`);
    const patches = doc.get('patches');
    if (!(patches instanceof YAMLSeq)) throw new Error(`${file}: no patches:`);
    patches.add(
      doc.createNode({
        target: { kind: 'AnalysisTemplate', labelSelector: 'mdp.io/analysis=prometheus' },
        patch: stringify([{ op: 'replace', path: '/spec/args/0/value', value: settings.prometheusUrl }]),
      }),
    );
    writeFileSync(file, doc.toString());
  }
  await g.git([
    'commit',
    '--quiet',
    '-am',
    'e2e environment: images from the run registry, analyses on its Prometheus',
  ]);
  await g.git(['push', '--quiet', 'origin', 'HEAD:main']);
}

type Manifest = Resource & { spec?: Record<string, unknown>; status?: Record<string, unknown> };

// gitops-engine's kind order (pkg/sync/sync_tasks.go, after Helm's): kinds not listed come last.
const KIND_ORDER = [
  'Namespace',
  'ResourceQuota',
  'LimitRange',
  'PodSecurityPolicy',
  'PodDisruptionBudget',
  'Secret',
  'ConfigMap',
  'StorageClass',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'ServiceAccount',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'Service',
  'DaemonSet',
  'Pod',
  'ReplicationController',
  'ReplicaSet',
  'Deployment',
  'StatefulSet',
  'Job',
  'CronJob',
  'Ingress',
  'APIService',
];
const kindRank = (k: string) => {
  const i = KIND_ORDER.indexOf(k);
  return i < 0 ? KIND_ORDER.length : i;
};
const wave = (m: Manifest) => Number(m.metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0);
const isHook = (m: Manifest) => m.metadata.annotations?.['argocd.argoproj.io/hook'] !== undefined;
const ref = (m: Manifest) => {
  const group = m.apiVersion.includes('/') ? `.${m.apiVersion.split('/')[0]}` : '';
  return `${m.kind.toLowerCase()}${group}/${m.metadata.name}`;
};

export interface SyncResult {
  revision: string;
  waves: number[];
  seconds: number;
}

/** Argo CD's sync of deploy/overlays/<env> at origin's main (see the file comment). */
export async function argoSync(
  cluster: Pick<Cluster, 'kubectl' | 'kubectlOk'>,
  g: GitOps,
  env: 'staging' | 'production',
  work: string,
  timeoutMs = 180_000,
): Promise<SyncResult> {
  const started = performance.now();
  // Argo CD's repo server: its own clone of the repository, at the revision it syncs.
  const repo = path.join(work, 'argocd-repo');
  const revision = await g.originHead();
  mkdirSync(repo, { recursive: true });
  await mustCommand('git', ['init', '--quiet'], { cwd: repo });
  await mustCommand('git', ['fetch', '--quiet', '--no-tags', g.origin, revision], { cwd: repo });
  await mustCommand('git', ['checkout', '--quiet', '--force', '--detach', revision], { cwd: repo });
  const { stdout } = await exec('kubectl', ['kustomize', path.join(repo, 'deploy/overlays', env)], {
    maxBuffer: 64 * 1024 * 1024,
    timeout: 120_000,
  });
  const manifests = parseAllDocuments(stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => !!m);
  // The cluster's storage (no provisioner here): what a StorageClass would provide.
  const storage = storageFor(manifests.map((resource) => ({ resource, file: '', target: env })));
  if (storage)
    await cluster.kubectlOk(['apply', '--server-side', '--field-manager=e2e-storage', '-f', '-'], {
      input: storage,
    });
  const sorted = [...manifests].sort(
    (a, b) =>
      wave(a) - wave(b) ||
      kindRank(a.kind) - kindRank(b.kind) ||
      a.metadata.name.localeCompare(b.metadata.name),
  );
  const waves = [...new Set(sorted.map(wave))];
  const deadline = Date.now() + timeoutMs;
  for (const w of waves) {
    const items = sorted.filter((m) => wave(m) === w);
    for (const hook of items.filter(isHook)) {
      const policy =
        hook.metadata.annotations?.['argocd.argoproj.io/hook-delete-policy'] ?? 'BeforeHookCreation';
      if (policy.split(',').includes('BeforeHookCreation'))
        await cluster.kubectlOk([
          'delete',
          '--ignore-not-found',
          '--wait=true',
          '-n',
          hook.metadata.namespace ?? 'default',
          ref(hook),
        ]);
    }
    // kubectl reads YAML 1.1: write 1.1 so that strings such as "on" keep their quotes.
    const input = items.map((m) => stringify(m, { version: '1.1' })).join('---\n');
    const applied = await cluster.kubectl(
      ['apply', '--server-side', '--force-conflicts', '--field-manager=argocd-controller', '-f', '-'],
      { input, timeoutMs: 300_000 },
    );
    if (applied.code !== 0) throw new Error(`argo sync of ${env}, wave ${w}: ${applied.stderr.trim()}`);
    // The wave's workloads healthy before the next wave (Argo CD's health of StatefulSets and Jobs;
    // Deployments and Rollouts are left to the caller, which waits for the release).
    const watched = items.filter((m) => m.kind === 'StatefulSet' || (m.kind === 'Job' && isHook(m)));
    for (;;) {
      const states = await Promise.all(
        watched.map(async (m) => {
          const r = await cluster.kubectl([
            'get',
            '-n',
            m.metadata.namespace ?? 'default',
            ref(m),
            '-o',
            'json',
          ]);
          if (r.code !== 0) return `${ref(m)}: ${r.stderr.trim()}`;
          const live = JSON.parse(r.stdout) as Manifest;
          const st = (live.status ?? {}) as { readyReplicas?: number; succeeded?: number };
          if (m.kind === 'Job')
            return (st.succeeded ?? 0) >= 1 ? '' : `${ref(m)}: ${JSON.stringify(live.status)}`;
          const wanted = Number((live.spec as { replicas?: number }).replicas ?? 1);
          return (st.readyReplicas ?? 0) >= wanted
            ? ''
            : `${ref(m)}: ${st.readyReplicas ?? 0}/${wanted} ready`;
        }),
      );
      const waiting = states.filter(Boolean);
      if (waiting.length === 0) break;
      if (Date.now() > deadline) {
        const events = await cluster.kubectl([
          'get',
          'events',
          '-n',
          items.find((m) => m.metadata.namespace)?.metadata.namespace ?? 'default',
          '-o',
          'jsonpath={range .items[*]}{.involvedObject.name}: {.reason}: {.message}{"\\n"}{end}',
        ]);
        throw new Error(
          `argo sync of ${env}: wave ${w} not healthy within ${timeoutMs / 1000} s:\n  ${waiting.join('\n  ')}\n${events.stdout.trim().split('\n').slice(-15).join('\n')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  return { revision, waves, seconds: (performance.now() - started) / 1000 };
}
