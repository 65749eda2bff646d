/**
 * Which connections the NetworkPolicies of one namespace allow, computed with Kubernetes'
 * semantics: a pod selected by a policy of a given type is isolated in that direction, and a
 * connection needs both an egress allowance at the source and an ingress allowance at the
 * destination. Used to prove that the policies allow exactly the flows of the architecture.
 */
import { selectorMatches } from './policy.js';
import { type Located, operatorPods, podTemplate } from './resources.js';

// biome-ignore lint/suspicious/noExplicitAny: rendered objects are free-form
type Any = any;

export interface Endpoint {
  name: string;
  namespace: string;
  namespaceLabels: Record<string, string>;
  labels: Record<string, string>;
  /** Ports it accepts connections on, "8080/TCP". */
  ports: string[];
  /** An address for ipBlock peers (endpoints outside the cluster only). */
  ip?: string;
}

/** Peers outside the namespace that the architecture talks to. */
export function externalEndpoints(): Endpoint[] {
  const ns = (name: string) => ({
    namespace: name,
    namespaceLabels: { 'kubernetes.io/metadata.name': name },
  });
  return [
    // Istio's control plane: configuration (xDS) and certificates for the edge Envoy and the sidecars.
    {
      name: 'istiod',
      ...ns('istio-system'),
      labels: { app: 'istiod' },
      ports: ['15012/TCP'],
    },
    {
      name: 'prometheus',
      ...ns('monitoring'),
      labels: { 'app.kubernetes.io/name': 'prometheus' },
      ports: [],
    },
    {
      name: 'otel-collector',
      ...ns('observability'),
      labels: { 'app.kubernetes.io/name': 'otel-collector' },
      ports: ['4318/TCP'],
    },
    // The datastore operators (production): they reach into their clusters' pods.
    {
      name: 'cnpg-operator',
      ...ns('cnpg-system'),
      labels: { 'app.kubernetes.io/name': 'cloudnative-pg' },
      ports: [],
    },
    {
      name: 'rabbitmq-operator',
      ...ns('rabbitmq-system'),
      labels: { 'app.kubernetes.io/name': 'rabbitmq-cluster-operator' },
      ports: [],
    },
    {
      name: 'kube-dns',
      ...ns('kube-system'),
      labels: { 'k8s-app': 'kube-dns' },
      ports: ['53/UDP', '53/TCP'],
    },
    {
      name: 'internet',
      namespace: '',
      namespaceLabels: {},
      labels: {},
      ports: ['443/TCP'],
      ip: '203.0.113.10',
    },
    {
      name: 'private-network',
      namespace: '',
      namespaceLabels: {},
      labels: {},
      ports: ['443/TCP'],
      ip: '10.1.2.3',
    },
  ];
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

export function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText ?? 32);
  if (!base || base.includes(':') || ip.includes(':')) return false;
  const mask = bits === 0 ? 0 : 2 ** 32 - 2 ** (32 - bits);
  return (ipToInt(ip) & mask) >>> 0 === (ipToInt(base) & mask) >>> 0;
}

function peerMatches(peer: Any, policyNs: string, ep: Endpoint): boolean {
  if (peer.ipBlock) {
    if (!ep.ip || !inCidr(ep.ip, peer.ipBlock.cidr)) return false;
    return !(peer.ipBlock.except ?? []).some((c: string) => inCidr(ep.ip as string, c));
  }
  if (ep.ip) return false;
  const nsOk = peer.namespaceSelector
    ? selectorMatches(peer.namespaceSelector, ep.namespaceLabels)
    : ep.namespace === policyNs;
  const podOk = peer.podSelector ? selectorMatches(peer.podSelector, ep.labels) : true;
  return nsOk && podOk;
}

function portMatches(rulePorts: Any[] | undefined, port: string): boolean {
  if (!rulePorts || rulePorts.length === 0) return true;
  const [num, proto] = port.split('/');
  return rulePorts.some((p: Any) => String(p.port) === num && (p.protocol ?? 'TCP') === proto);
}

/** The flows "src -> dst:port/proto" allowed in the render's namespace. */
export function allowedFlows(items: Located[]): string[] {
  const policies = items.filter((i) => i.resource.kind === 'NetworkPolicy').map((i) => i.resource);
  const namespace = policies[0]?.metadata?.namespace ?? '';
  const nsItem = items.find((i) => i.resource.kind === 'Namespace' && i.resource.metadata.name === namespace);
  const nsLabels: Record<string, string> = {
    'kubernetes.io/metadata.name': namespace,
    ...(nsItem?.resource.metadata.labels ?? {}),
  };
  const local: Endpoint[] = [];
  for (const item of items) {
    const made = operatorPods(item.resource);
    if (made) {
      local.push({
        name: made.labels['app.kubernetes.io/name'] ?? item.resource.metadata.name,
        namespace,
        namespaceLabels: nsLabels,
        labels: made.labels,
        ports: made.ports,
      });
      continue;
    }
    const t = podTemplate(item.resource);
    if (!t) continue;
    const labels: Record<string, string> = t.metadata?.labels ?? {};
    const ports = (t.spec?.containers ?? []).flatMap((c: Any) =>
      (c.ports ?? []).map((p: Any) => `${p.containerPort}/${p.protocol ?? 'TCP'}`),
    );
    local.push({
      name: labels['app.kubernetes.io/name'] ?? item.resource.metadata.name,
      namespace,
      namespaceLabels: nsLabels,
      labels,
      ports,
    });
  }
  const externals = externalEndpoints();
  const selecting = (ep: Endpoint, type: 'Ingress' | 'Egress') =>
    ep.namespace === namespace
      ? policies.filter(
          (p) =>
            (p.spec?.policyTypes ?? ['Ingress']).includes(type) &&
            selectorMatches(p.spec?.podSelector ?? {}, ep.labels),
        )
      : undefined; // outside the namespace: no policy of this render applies
  const egressOk = (src: Endpoint, dst: Endpoint, port: string) => {
    const ps = selecting(src, 'Egress');
    if (!ps || ps.length === 0) return true;
    return ps.some((p) =>
      (p.spec?.egress ?? []).some(
        (r: Any) =>
          portMatches(r.ports, port) &&
          (!r.to || r.to.some((peer: Any) => peerMatches(peer, namespace, dst))),
      ),
    );
  };
  const ingressOk = (src: Endpoint, dst: Endpoint, port: string) => {
    const ps = selecting(dst, 'Ingress');
    if (!ps || ps.length === 0) return true;
    return ps.some((p) =>
      (p.spec?.ingress ?? []).some(
        (r: Any) =>
          portMatches(r.ports, port) &&
          (!r.from || r.from.some((peer: Any) => peerMatches(peer, namespace, src))),
      ),
    );
  };
  const flows = new Set<string>();
  const all = [...local, ...externals];
  for (const src of all) {
    for (const dst of all) {
      if (src === dst && src.namespace !== namespace) continue;
      // Only connections that touch this namespace are governed by its policies.
      if (src.namespace !== namespace && dst.namespace !== namespace) continue;
      for (const port of dst.ports) {
        if (egressOk(src, dst, port) && ingressOk(src, dst, port))
          flows.add(`${src.name} -> ${dst.name}:${port}`);
      }
    }
  }
  return [...flows].sort();
}
