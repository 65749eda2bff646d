/**
 * The cluster's view of a release: each service's Argo Rollout and the ReplicaSets it made. A
 * service is released at a digest when its Rollout is Healthy, its stable ReplicaSet is the
 * current one, runs that digest and has all its replicas ready.
 */
import type { Kubectl } from '@mdp/cluster/cluster';

export interface RolloutView {
  service: string;
  phase: string;
  message: string;
  stableRS: string;
  currentPodHash: string;
  /** The image of the stable ReplicaSet's service container. */
  stableImage: string;
  stableReady: string;
}

interface Live {
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { replicas?: number; template?: { spec?: { containers?: { name: string; image: string }[] } } };
  status?: {
    phase?: string;
    message?: string;
    stableRS?: string;
    currentPodHash?: string;
    readyReplicas?: number;
  };
}

export async function rolloutViews(kubectl: Kubectl, namespace: string): Promise<Map<string, RolloutView>> {
  const [ro, rs] = await Promise.all([
    kubectl(['get', 'rollouts.argoproj.io', '-n', namespace, '-o', 'json']),
    kubectl(['get', 'replicasets', '-n', namespace, '-o', 'json']),
  ]);
  const views = new Map<string, RolloutView>();
  if (ro.code !== 0 || rs.code !== 0) return views;
  const sets = (JSON.parse(rs.stdout) as { items: Live[] }).items;
  for (const r of (JSON.parse(ro.stdout) as { items: Live[] }).items) {
    const service = r.metadata.name;
    const stableRS = r.status?.stableRS ?? '';
    const stable = sets.find(
      (s) =>
        s.metadata.labels?.['rollouts-pod-template-hash'] === stableRS &&
        s.metadata.labels?.['app.kubernetes.io/name'] === service,
    );
    const container = stable?.spec?.template?.spec?.containers?.find((c) => c.name === service);
    views.set(service, {
      service,
      phase: r.status?.phase ?? '',
      message: r.status?.message ?? '',
      stableRS,
      currentPodHash: r.status?.currentPodHash ?? '',
      stableImage: container?.image ?? '',
      stableReady: `${stable?.status?.readyReplicas ?? 0}/${stable?.spec?.replicas ?? 0}`,
    });
  }
  return views;
}

export function releasedAt(v: RolloutView | undefined, digest: string): boolean {
  if (!v) return false;
  const [ready, wanted] = v.stableReady.split('/').map(Number);
  return (
    v.phase === 'Healthy' &&
    v.stableRS !== '' &&
    v.stableRS === v.currentPodHash &&
    v.stableImage.endsWith(`@${digest}`) &&
    (wanted ?? 0) > 0 &&
    ready === wanted
  );
}

const line = (v: RolloutView) =>
  `${v.service}: ${v.phase}${v.message ? ` (${v.message})` : ''} stable ${v.stableRS} ${v.stableReady} ${v.stableImage.split('@')[1]?.slice(7, 19) ?? v.stableImage}`;

/**
 * Waits until every service of `want` is released at its digest; throws when one is Degraded (an
 * aborted release; unless `allowDegraded`: a rollback waits for one to recover) or after `timeoutMs`. `say` gets each change of a Rollout's state.
 */
export async function waitReleased(
  kubectl: Kubectl,
  namespace: string,
  want: Record<string, string>,
  opts: { timeoutMs?: number; say?: (line: string) => void; allowDegraded?: boolean } = {},
): Promise<Map<string, RolloutView>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 180_000);
  const seen = new Map<string, string>();
  for (;;) {
    const views = await rolloutViews(kubectl, namespace);
    for (const v of views.values()) {
      const l = line(v);
      if (seen.get(v.service) !== l) opts.say?.(`${namespace} ${l}`);
      seen.set(v.service, l);
    }
    if (Object.entries(want).every(([s, d]) => releasedAt(views.get(s), d))) return views;
    const degraded = [...views.values()].filter((v) => v.phase === 'Degraded' && want[v.service]);
    if (degraded.length && !opts.allowDegraded) throw new Error(`Degraded: ${degraded.map(line).join('; ')}`);
    if (Date.now() > deadline)
      throw new Error(
        `not released within ${(opts.timeoutMs ?? 180_000) / 1000} s: ${[...views.values()].map(line).join('; ')}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Waits until `service`'s Rollout satisfies `done`; resolves with its view. */
export async function waitRollout(
  kubectl: Kubectl,
  namespace: string,
  service: string,
  done: (v: RolloutView) => boolean,
  opts: { timeoutMs?: number; say?: (line: string) => void } = {},
): Promise<RolloutView> {
  const deadline = Date.now() + (opts.timeoutMs ?? 180_000);
  let last = '';
  for (;;) {
    const v = (await rolloutViews(kubectl, namespace)).get(service);
    if (v) {
      const l = line(v);
      if (l !== last) opts.say?.(`${namespace} ${l}`);
      last = l;
      if (done(v)) return v;
    }
    if (Date.now() > deadline)
      throw new Error(`${service}: not there within ${opts.timeoutMs ?? 180_000} ms: ${last}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
