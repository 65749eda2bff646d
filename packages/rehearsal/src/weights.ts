/**
 * Which version gets which share of a frontend's traffic, read from what the controller wrote.
 * The test glue between the cluster and HAProxy; deliberately small. It covers:
 *
 *  - a Service (the plain `<service>` of a canary without traffic router, whose endpoints are
 *    every ready pod: the replica-weighted split kube-proxy gives; the active and the preview
 *    Service of a blue-green, whose selectors the controller switches): the share of each
 *    ReplicaSet (rollouts-pod-template-hash) among the Service's ready endpoints;
 *  - an HTTPRoute (the Gateway API traffic router, once the Rollouts use it): each rule's
 *    backendRefs weights, each backend Service's share split again by its ready endpoints;
 *  - an Istio VirtualService (the mesh traffic router of order-service and product-service):
 *    the destination weights of its named http route, each destination host (a Service of the
 *    namespace) split again by its ready endpoints.
 *
 * Not covered: session affinity, topology-aware routing, per-pod load (one process stands for
 * all pods of a ReplicaSet), HTTPRoute matches/filters/several rules (the first rule is taken),
 * VirtualService matches, subsets and retries (the named route's destinations are taken), GAMMA
 * routes, sidecars (no Envoy runs: HAProxy stands in for the mesh), and kube-proxy's per-connection balancing (HAProxy
 * balances per request, weighted round robin).
 */
import type { KubeObject } from './kube.js';

export const HASH_LABEL = 'rollouts-pod-template-hash';

export interface ClusterView {
  /** EndpointSlices of the namespace. */
  slices: Iterable<KubeObject>;
  /** Pods of the namespace, by name. */
  pods: Map<string, KubeObject>;
  /** HTTPRoutes of the namespace, by name. */
  routes?: Map<string, KubeObject>;
  /** Istio VirtualServices of the namespace, by name. */
  virtualServices?: Map<string, KubeObject>;
}

/** Ready endpoints of Service `service`, counted by their pod's rollouts-pod-template-hash. */
export function endpointsByHash(view: ClusterView, service: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of view.slices) {
    if (s.metadata.labels?.['kubernetes.io/service-name'] !== service) continue;
    for (const ep of s.endpoints ?? []) {
      if (ep.conditions?.ready !== true) continue;
      const pod = ep.targetRef?.kind === 'Pod' ? view.pods.get(ep.targetRef.name) : undefined;
      const hash = pod?.metadata.labels?.[HASH_LABEL];
      if (!hash || pod?.metadata.deletionTimestamp) continue;
      out.set(hash, (out.get(hash) ?? 0) + 1);
    }
  }
  return out;
}

const normalise = (m: Map<string, number>): Map<string, number> => {
  const total = [...m.values()].reduce((a, b) => a + b, 0);
  return new Map([...m].map(([k, v]) => [k, total ? v / total : 0]));
};

/** Where the traffic of one frontend goes: a Service, or an HTTPRoute when it exists. */
export interface Frontend {
  name: string;
  service: string;
  /** An HTTPRoute whose first rule splits between Services; used when it is in the cluster. */
  route?: string;
  /** A VirtualService (and the name of its http route) that splits between Services; used when it is in the cluster. */
  virtualService?: { name: string; route?: string };
}

/** The Services a frontend's router splits between, with their weights; undefined: no router. */
function backends(view: ClusterView, frontend: Frontend): { name: string; weight: number }[] | undefined {
  const route = frontend.route ? view.routes?.get(frontend.route) : undefined;
  if (route)
    return ((route.spec?.rules?.[0]?.backendRefs ?? []) as { name: string; weight?: number }[]).map((r) => ({
      name: r.name,
      weight: r.weight ?? 1,
    }));
  const vs = frontend.virtualService ? view.virtualServices?.get(frontend.virtualService.name) : undefined;
  if (vs) {
    const http = (vs.spec?.http ?? []) as {
      name?: string;
      route?: { destination: { host: string }; weight?: number }[];
    }[];
    const named = frontend.virtualService?.route
      ? http.find((h) => h.name === frontend.virtualService?.route)
      : http[0];
    const dests = named?.route ?? [];
    // Istio: a single destination without a weight takes everything.
    return dests.map((d) => ({
      name: d.destination.host,
      weight: d.weight ?? (dests.length === 1 ? 100 : 0),
    }));
  }
  return undefined;
}

/** Share (0..1) of the frontend's traffic per ReplicaSet hash. */
export function shares(view: ClusterView, frontend: Frontend): Map<string, number> {
  const refs = backends(view, frontend);
  if (!refs) return normalise(endpointsByHash(view, frontend.service));
  const total = refs.reduce((a, r) => a + r.weight, 0);
  const out = new Map<string, number>();
  for (const ref of refs) {
    if (!total) break;
    for (const [hash, share] of normalise(endpointsByHash(view, ref.name)))
      out.set(hash, (out.get(hash) ?? 0) + (share * ref.weight) / total);
  }
  return out;
}

/** HAProxy server weights (0..256) from shares: the largest-remainder rounding of share × 100. */
export function haproxyWeights(s: Map<string, number>): Map<string, number> {
  const raw = [...s].map(([k, v]) => ({ k, v: v * 100 }));
  const out = new Map(raw.map(({ k, v }) => [k, Math.floor(v)]));
  let left = Math.round(raw.reduce((a, { v }) => a + v, 0)) - [...out.values()].reduce((a, b) => a + b, 0);
  for (const { k } of [...raw].sort((a, b) => (b.v % 1) - (a.v % 1))) {
    if (left <= 0) break;
    out.set(k, (out.get(k) ?? 0) + 1);
    left--;
  }
  return out;
}
