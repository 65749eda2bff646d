/**
 * A local Kubernetes control plane for tests, from the engines pinned in tools/ and built by
 * scripts/install-tools.sh: etcd, kube-apiserver (the admission plugins of a real cluster,
 * PodSecurity included; client-certificate authentication, RBAC), kube-controller-manager,
 * kube-scheduler and kwok, which plays the kubelet of fake nodes so that the pods of
 * Deployments, ReplicaSets, StatefulSets and Jobs become Running/Ready (or Succeeded) without
 * containers. Everything listens on free loopback ports and lives in a temp dir; stop() ends
 * every process it started (process groups) and removes the dir.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@mdp/platform/testing';
import { parseAllDocuments, stringify } from 'yaml';
import { allCrdFiles, CRD_SOURCES, type CrdSource } from './crds.js';
import { makePki, type Pki } from './pki.js';
import { type Managed, startProcess } from './processes.js';
import { engine, moduleDir, pinnedVersion, systemTool } from './tools.js';

export interface ClusterOptions {
  /** CRDs to install (default: all of CRD_SOURCES; [] for none). */
  crds?: CrdSource[];
  /** Fake nodes managed by kwok (default 2). */
  nodes?: number;
  /** Keep the temp dir after stop() (logs, etcd data). */
  keepDir?: boolean;
  /** Called with one line per step (the CLI prints them). */
  log?: (line: string) => void;
  /**
   * Job pods with this label are left Running by kwok instead of completed: the caller plays
   * their kubelet and sets their phase (the release rehearsal runs the smoke Job's test itself).
   */
  heldJobPods?: { label: string; value: string };
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Cluster {
  dir: string;
  kubeconfig: string;
  server: string;
  /** Seconds each start step took. */
  timings: Record<string, number>;
  /** The processes it started (each leads its own process group). */
  processes: { name: string; pid: number; logFile: string }[];
  /** Runs the machine's kubectl against this cluster. Never throws on a non-zero exit. */
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<KubectlResult>;
  /** Like kubectl(), but a non-zero exit throws with kubectl's stderr. */
  kubectlOk(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** GET a path of the API server as the admin user; resolves with status and body. */
  get(pathname: string): Promise<{ status: number; body: string }>;
  stop(): Promise<void>;
}

export const SERVICE_CIDR = '10.96.0.0/16';
export const POD_CIDR = '10.244.0.0/16';

function httpsGet(url: string, pki: Pki, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca: readFileSync(pki.caCert),
        cert: readFileSync(pki.adminCert),
        key: readFileSync(pki.adminKey),
        timeout: timeoutMs,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** Polls `probe` until it returns true; fails with `what` and the process log if `proc` ends. */
async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  opts: { timeoutMs: number; procs?: Managed[] },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let ended: string | undefined;
  const watchers = (opts.procs ?? []).map((p) =>
    p.exited.then((how) => {
      ended = `${p.name} ended (${how}):\n${p.tail()}`;
    }),
  );
  void watchers;
  for (;;) {
    if (ended) throw new Error(`waiting for ${what}: ${ended}`);
    try {
      if (await probe()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) {
      const logs = (opts.procs ?? []).map((p) => `--- ${p.name}\n${p.tail()}`).join('\n');
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

const run = promisify(execFile);

export type Kubectl = Cluster['kubectl'];

/** kubectl (the machine's) bound to a kubeconfig: this cluster's, or one given to a CLI. */
export function kubectlFor(kubeconfig: string): Pick<Cluster, 'kubectl' | 'kubectlOk'> {
  const bin = systemTool('kubectl');
  const kubectl: Kubectl = (args, o = {}) =>
    new Promise((resolve) => {
      const child = execFile(
        bin,
        [`--kubeconfig=${kubeconfig}`, ...args],
        { maxBuffer: 64 * 1024 * 1024, timeout: o.timeoutMs ?? 120_000, encoding: 'utf8' },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
      // A command that reads no input may exit before its stdin is closed (EPIPE): its exit code
      // and stderr are the answer, not the pipe's error.
      child.stdin?.on('error', () => {});
      child.stdin?.end(o.input ?? '');
    });
  const kubectlOk: Cluster['kubectlOk'] = async (args, o = {}) => {
    const r = await kubectl(args, o);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  };
  return { kubectl, kubectlOk };
}

function kubeconfigYaml(server: string, pki: Pki): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'mdp-local', cluster: { server, 'certificate-authority': pki.caCert } }],
    users: [{ name: 'mdp-admin', user: { 'client-certificate': pki.adminCert, 'client-key': pki.adminKey } }],
    contexts: [{ name: 'mdp-local', context: { cluster: 'mdp-local', user: 'mdp-admin' } }],
    'current-context': 'mdp-local',
  });
}

/**
 * kwok's own "fast" stages (nodes Ready with a lease heartbeat, pods Ready, Job pods Succeeded),
 * rendered from its module; `held` Job pods are kept out of the pod-complete stage.
 */
async function kwokStages(held?: ClusterOptions['heldJobPods']): Promise<string> {
  const dir = await moduleDir('sigs.k8s.io/kwok', pinnedVersion('kwok', 'sigs.k8s.io/kwok'));
  const { stdout } = await run(systemTool('kubectl'), ['kustomize', path.join(dir, 'kustomize/stage/fast')], {
    maxBuffer: 16 * 1024 * 1024,
  });
  if (!held) return stdout;
  type Stage = {
    kind?: string;
    metadata?: { name?: string };
    spec: { selector: { matchExpressions: unknown[] } };
  };
  const docs = parseAllDocuments(stdout).map((d) => d.toJS() as Stage);
  const complete = docs.find((d) => d?.kind === 'Stage' && d.metadata?.name === 'pod-complete');
  if (!complete) throw new Error('kwok: no pod-complete stage to hold Job pods from');
  complete.spec.selector.matchExpressions.push({
    key: `.metadata.labels[${JSON.stringify(held.label)}]`,
    operator: 'NotIn',
    values: [held.value],
  });
  return docs.map((d) => stringify(d)).join('---\n');
}

function fakeNode(name: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node-role.kubernetes.io/agent': '',
        type: 'kwok',
      },
    },
    spec: {},
    status: {
      allocatable: { cpu: '32', memory: '256Gi', pods: '110', 'ephemeral-storage': '1Ti' },
      capacity: { cpu: '32', memory: '256Gi', pods: '110', 'ephemeral-storage': '1Ti' },
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        kubeletVersion: 'fake',
        kubeProxyVersion: 'fake',
      },
    },
  });
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const log = opts.log ?? (() => {});
  const bins = {
    etcd: engine('etcd'),
    apiserver: engine('kube-apiserver'),
    kcm: engine('kube-controller-manager'),
    scheduler: engine('kube-scheduler'),
    kwok: engine('kwok'),
  };
  // The machine's programs, checked before anything starts.
  systemTool('kubectl');
  systemTool('openssl');
  const dir = mkdtempSync(path.join(tmpdir(), 'mdp-cluster-'));
  const procs: Managed[] = [];
  const timings: Record<string, number> = {};
  let mark = performance.now();
  const step = (name: string) => {
    const now = performance.now();
    timings[name] = Number(((now - mark) / 1000).toFixed(2));
    mark = now;
    log(`${name} in ${timings[name]} s`);
  };
  const stop = async () => {
    // Controllers first, then the API server, then etcd (so none logs its peers' deaths).
    const [etcdProc, apiProc, ...rest] = procs;
    await Promise.all(rest.map((p) => p.stop()));
    if (apiProc) await apiProc.stop();
    if (etcdProc) await etcdProc.stop();
    if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
  };

  try {
    const pkiDir = path.join(dir, 'pki');
    mkdirSync(pkiDir);
    const [pki, etcdPort, etcdPeerPort, apiPort, kcmPort, schedPort, kwokPort] = await Promise.all([
      makePki(pkiDir),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    step('certificates');
    const logFile = (n: string) => path.join(dir, `${n}.log`);

    const etcd = startProcess(
      'etcd',
      bins.etcd,
      [
        '--name=mdp',
        `--data-dir=${path.join(dir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-cluster=mdp=http://127.0.0.1:${etcdPeerPort}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      { logFile: logFile('etcd') },
    );
    procs.push(etcd);
    await waitFor(
      'etcd',
      async () => {
        const res = await fetch(`http://127.0.0.1:${etcdPort}/health`, { signal: AbortSignal.timeout(2000) });
        return res.ok && ((await res.json()) as { health?: string }).health === 'true';
      },
      { timeoutMs: 60_000, procs: [etcd] },
    );
    step('etcd');

    const server = `https://127.0.0.1:${apiPort}`;
    const apiserver = startProcess(
      'kube-apiserver',
      bins.apiserver,
      [
        `--etcd-servers=http://127.0.0.1:${etcdPort}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--cert-dir=${path.join(dir, 'apiserver-certs')}`,
        `--tls-cert-file=${pki.serverCert}`,
        `--tls-private-key-file=${pki.serverKey}`,
        `--client-ca-file=${pki.caCert}`,
        `--service-account-key-file=${pki.saPub}`,
        `--service-account-signing-key-file=${pki.saKey}`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        '--authorization-mode=Node,RBAC',
        // The defaults (NamespaceLifecycle, LimitRanger, ServiceAccount, PodSecurity, ResourceQuota,
        // the webhooks and ValidatingAdmissionPolicy, ...) plus what kubeadm adds.
        '--enable-admission-plugins=NodeRestriction,PodSecurity',
        '--allow-privileged=true',
        '--endpoint-reconciler-type=none',
        '--profiling=false',
        '--v=0',
      ],
      { logFile: logFile('kube-apiserver') },
    );
    procs.push(apiserver);
    await waitFor(
      'kube-apiserver /readyz',
      async () => (await httpsGet(`${server}/readyz`, pki)).status === 200,
      { timeoutMs: 120_000, procs: [etcd, apiserver] },
    );
    step('kube-apiserver');

    const kubeconfig = path.join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigYaml(server, pki), { mode: 0o600 });
    const kwokConfig = path.join(dir, 'kwok.yaml');
    writeFileSync(kwokConfig, await kwokStages(opts.heldJobPods));

    const { kubectl, kubectlOk } = kubectlFor(kubeconfig);
    // What the controller-manager and the scheduler share: the admin identity, and their own
    // health endpoint on a loopback port with a self-signed certificate.
    const controllerArgs = (port: number, certDir: string) => [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      `--cert-dir=${path.join(dir, certDir)}`,
      '--leader-elect=false',
      '--v=0',
    ];

    const kcm = startProcess(
      'kube-controller-manager',
      bins.kcm,
      [
        ...controllerArgs(kcmPort, 'kcm-certs'),
        `--root-ca-file=${pki.caCert}`,
        `--service-account-private-key-file=${pki.saKey}`,
        `--cluster-signing-cert-file=${pki.caCert}`,
        `--cluster-signing-key-file=${pki.caKey}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        `--cluster-cidr=${POD_CIDR}`,
        '--allocate-node-cidrs=true',
        '--use-service-account-credentials=false',
        '--controllers=*',
      ],
      { logFile: logFile('kube-controller-manager') },
    );
    const scheduler = startProcess(
      'kube-scheduler',
      bins.scheduler,
      controllerArgs(schedPort, 'scheduler-certs'),
      { logFile: logFile('kube-scheduler') },
    );
    const kwok = startProcess(
      'kwok',
      bins.kwok,
      [
        `--kubeconfig=${kubeconfig}`,
        `--config=${kwokConfig}`,
        '--manage-all-nodes=false',
        '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
        '--node-ip=127.0.0.1',
        `--node-port=${kwokPort}`,
        `--server-address=127.0.0.1:${kwokPort}`,
        `--cidr=${POD_CIDR}`,
        '--node-lease-duration-seconds=40',
      ],
      { logFile: logFile('kwok') },
    );
    procs.push(kcm, scheduler, kwok);

    const nodeNames = Array.from({ length: opts.nodes ?? 2 }, (_, i) => `kwok-node-${i}`);
    await kubectlOk(['apply', '--server-side', '-f', '-'], {
      input: nodeNames.map(fakeNode).join('---\n'),
    });
    const all = [etcd, apiserver, kcm, scheduler, kwok];
    await waitFor(
      'the fake nodes to be Ready',
      async () => {
        const r = await kubectl([
          'get',
          'nodes',
          '-o',
          'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}',
        ]);
        const states = r.stdout.trim().split(/\s+/);
        return r.code === 0 && states.length === nodeNames.length && states.every((s) => s === 'True');
      },
      { timeoutMs: 120_000, procs: all },
    );
    step('controllers and kwok nodes');

    const crds = await allCrdFiles(opts.crds ?? CRD_SOURCES);
    await Promise.all([
      // Pods that use the default ServiceAccount are refused until the controller made it.
      waitFor(
        'the default ServiceAccount',
        async () => (await kubectl(['get', 'serviceaccount', 'default', '-n', 'default'])).code === 0,
        { timeoutMs: 120_000, procs: all },
      ),
      (async () => {
        if (crds.length === 0) return;
        await kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', '-'], {
          input: crds.map((c) => c.text.replace(/^---\s*\n/, '')).join('\n---\n'),
          timeoutMs: 600_000,
        });
        await kubectlOk(
          [
            'wait',
            '--for=condition=Established',
            '--timeout=300s',
            ...crds.flatMap((c) => c.names).map((n) => `crd/${n}`),
          ],
          { timeoutMs: 320_000 },
        );
      })(),
    ]);
    step(`${crds.reduce((n, c) => n + c.names.length, 0)} CRDs`);

    return {
      dir,
      kubeconfig,
      server,
      timings,
      processes: procs.map(({ name, pid, logFile }) => ({ name, pid, logFile })),
      kubectl,
      kubectlOk,
      get: (p) => httpsGet(`${server}${p}`, pki),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
