/**
 * The test glue of one rehearsal: it follows what the controller writes in the rehearsal's
 * namespace and makes the processes' world agree, as kube-proxy, the kubelet and the
 * prometheus-operator would in a cluster:
 *
 *  - HAProxy weights: each frontend's shares per ReplicaSet (./weights.ts: the Service's ready
 *    endpoints, or an HTTPRoute's backend weights, or a VirtualService's destination weights), mapped to the build that ReplicaSet runs
 *    (by its pod template's image);
 *  - Prometheus targets: the build of every ReplicaSet with ready pods, labelled as its pods
 *    (namespace, pod labels, so rollouts_pod_template_hash comes from the controller's ReplicaSet);
 *  - the smoke Job's pod (held back from kwok): the project's smoke test run against the gateway
 *    that plays the Job's sidecar, and the pod's phase set from its result, as a kubelet would.
 */
import type { Kubectl } from '@mdp/cluster/cluster';
import type { HAProxy } from './haproxy.js';
import type { Informer, informers, KubeObject } from './kube.js';
import { SMOKE_POD_LABEL } from './manifests.js';
import { type Prometheus, podLabelMeta } from './prometheus.js';
import { type ClusterView, type Frontend, HASH_LABEL, haproxyWeights, shares } from './weights.js';

export interface Build {
  /** HAProxy server name (v1: the stable build, v2: the new one). */
  server: string;
  port: number;
}

export interface WeightChange {
  at: number;
  frontend: string;
  weights: Record<string, number>;
}

export interface GlueOptions {
  kube: ReturnType<typeof informers>;
  kubectl: Kubectl;
  namespace: string;
  /** The Prometheus job (the PodMonitor's service). */
  job: string;
  frontends: Frontend[];
  /** Pod template image → the process that runs that build. */
  builds: Record<string, Build>;
  haproxy: HAProxy;
  prometheus: Prometheus;
  /** Runs the smoke test of a held smoke Job pod; true when it passed. */
  smoke?: () => Promise<{ ok: boolean; summary: string }>;
  onRollout?: (rollout: KubeObject, at: number) => void;
  log?: (line: string) => void;
}

export interface Glue {
  view: ClusterView & { replicaSets: Map<string, KubeObject> };
  /** Every weight change applied to HAProxy, in order. */
  changes: WeightChange[];
  /** The weights last applied per frontend. */
  applied(frontend: string): Record<string, number>;
  /** Resolves when `pred` holds for the applied weights (checked after every change). */
  until(pred: () => boolean, timeoutMs: number, what: string): Promise<number>;
  stop(): void;
}

export async function startGlue(o: GlueOptions): Promise<Glue> {
  const log = o.log ?? (() => {});
  const ns = o.namespace;
  const servers = [...new Set(Object.values(o.builds).map((b) => b.server))];
  const view = {
    slices: [] as KubeObject[],
    pods: new Map<string, KubeObject>(),
    routes: new Map<string, KubeObject>(),
    virtualServices: new Map<string, KubeObject>(),
    replicaSets: new Map<string, KubeObject>(),
  };
  const changes: WeightChange[] = [];
  const applied = new Map<string, Record<string, number>>();
  const waiters = new Set<() => void>();
  const smoked = new Set<string>();
  let stopped = false;
  let chain = Promise.resolve();
  let lastTargets = '';

  const buildOf = (hash: string): Build | undefined => {
    for (const rs of view.replicaSets.values())
      if (rs.metadata.labels?.[HASH_LABEL] === hash) {
        const image = rs.spec?.template?.spec?.containers?.[0]?.image as string | undefined;
        return image ? o.builds[image] : undefined;
      }
    return undefined;
  };

  const sync = async () => {
    if (stopped) return;
    for (const f of o.frontends) {
      const byServer: Record<string, number> = Object.fromEntries(servers.map((s) => [s, 0]));
      const s = shares(view, f);
      const perBuild = new Map<string, number>();
      for (const [hash, share] of s) {
        const b = buildOf(hash);
        if (b) perBuild.set(b.server, (perBuild.get(b.server) ?? 0) + share);
      }
      for (const [server, w] of haproxyWeights(perBuild)) byServer[server] = w;
      const before = applied.get(f.name);
      if (before && servers.every((x) => before[x] === byServer[x])) continue;
      // Raise before lowering, so that a switch never leaves the frontend without a server.
      const order = [...servers].sort((a, b) => (byServer[b] ?? 0) - (byServer[a] ?? 0));
      for (const server of order) await o.haproxy.setWeight(f.name, server, byServer[server] ?? 0);
      applied.set(f.name, byServer);
      const change = { at: Date.now(), frontend: f.name, weights: byServer };
      changes.push(change);
      log(`weights ${f.name}: ${servers.map((x) => `${x}=${byServer[x]}`).join(' ')}`);
    }
    // Prometheus: one target per ReplicaSet with ready pods, labelled as its pods.
    const groups = [...view.replicaSets.values()]
      // The Rollout's ReplicaSets (the referenced Deployment's own, scaled to 0, has no hash).
      .filter((rs) => rs.metadata.labels?.[HASH_LABEL] && (rs.status?.readyReplicas ?? 0) > 0)
      .flatMap((rs) => {
        const image = rs.spec?.template?.spec?.containers?.[0]?.image as string | undefined;
        const b = image ? o.builds[image] : undefined;
        if (!b) return [];
        const labels: Record<string, string> = {
          __meta_kubernetes_namespace: ns,
          __meta_kubernetes_pod_name: `${rs.metadata.name}-rehearsal`,
        };
        for (const [k, v] of Object.entries(
          (rs.spec.template.metadata?.labels ?? {}) as Record<string, string>,
        ))
          labels[podLabelMeta(k)] = v;
        return [{ targets: [`127.0.0.1:${b.port}`], labels }];
      });
    const text = JSON.stringify(groups);
    if (text !== lastTargets) {
      lastTargets = text;
      o.prometheus.setTargets(o.job, groups);
      log(
        `targets ${o.job}: ${groups.map((g) => `${g.targets[0]} hash=${g.labels[podLabelMeta(HASH_LABEL)]}`).join(', ') || 'none'}`,
      );
    }
    for (const w of waiters) w();
  };
  const schedule = () => {
    chain = chain.then(sync).catch((err) => log(`glue: ${(err as Error).message}`));
  };

  const playKubelet = async (pod: KubeObject) => {
    const name = pod.metadata.name;
    if (!o.smoke || smoked.has(name) || pod.status?.phase !== 'Running') return;
    if (pod.metadata.labels?.[SMOKE_POD_LABEL.key] !== SMOKE_POD_LABEL.value) return;
    smoked.add(name);
    log(`smoke Job pod ${name}: running the smoke test`);
    const result = await o.smoke().catch((err: Error) => ({ ok: false, summary: err.message }));
    log(`smoke Job pod ${name}: ${result.ok ? 'passed' : 'FAILED'} ${result.summary}`);
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const containers = (pod.spec.containers as { name: string; image: string }[]).map((c) => ({
      name: c.name,
      image: c.image,
      imageID: '',
      ready: false,
      restartCount: 0,
      started: false,
      state: {
        terminated: {
          exitCode: result.ok ? 0 : 1,
          reason: result.ok ? 'Completed' : 'Error',
          startedAt: pod.status?.startTime ?? now,
          finishedAt: now,
        },
      },
    }));
    const patch = { status: { phase: result.ok ? 'Succeeded' : 'Failed', containerStatuses: containers } };
    const r = await o.kubectl([
      '-n',
      ns,
      'patch',
      'pod',
      name,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify(patch),
    ]);
    if (r.code !== 0) log(`smoke Job pod ${name}: status patch failed: ${r.stderr.trim()}`);
  };

  const watch = (path: string, onChange: (type: string, obj: KubeObject) => void) =>
    o.kube.inform(path, (type, obj) => {
      onChange(type, obj);
      schedule();
    });
  const all: Informer[] = [];
  const slices = watch(`/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, () => {
    view.slices = [...slices.objects.values()];
  });
  all.push(slices);
  all.push(
    watch(`/api/v1/namespaces/${ns}/pods`, (type, pod) => {
      if (type === 'DELETED') view.pods.delete(pod.metadata.name);
      else view.pods.set(pod.metadata.name, pod);
      void playKubelet(pod);
    }),
    watch(`/apis/apps/v1/namespaces/${ns}/replicasets`, (type, rs) => {
      if (type === 'DELETED') view.replicaSets.delete(rs.metadata.name);
      else view.replicaSets.set(rs.metadata.name, rs);
    }),
    watch(`/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes`, (type, route) => {
      if (type === 'DELETED') view.routes.delete(route.metadata.name);
      else view.routes.set(route.metadata.name, route);
    }),
    watch(`/apis/networking.istio.io/v1/namespaces/${ns}/virtualservices`, (type, vs) => {
      if (type === 'DELETED') view.virtualServices.delete(vs.metadata.name);
      else view.virtualServices.set(vs.metadata.name, vs);
    }),
    watch(`/apis/argoproj.io/v1alpha1/namespaces/${ns}/rollouts`, (_type, ro) => {
      o.onRollout?.(ro, Date.now());
    }),
  );
  await Promise.all(all.map((i) => i.ready()));
  schedule();
  return {
    view,
    changes,
    applied: (f) => applied.get(f) ?? {},
    until(pred, timeoutMs, what) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!pred()) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(Date.now());
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    stop() {
      stopped = true;
      for (const i of all) i.stop();
      for (const w of waiters) w();
    },
  };
}
