import { parseAllDocuments } from 'yaml';

/** One rendered Kubernetes object, with where it came from. */
export interface Resource {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // biome-ignore lint/suspicious/noExplicitAny: rendered YAML is free-form until validated
  [key: string]: any;
}

export interface Located {
  /** What the render produced (origin annotation removed). */
  resource: Resource;
  /** The source file (repo-relative) the object was written in, or the kustomization that generated it. */
  file: string;
  /** The render target (e.g. deploy/overlays/dev). */
  target: string;
}

export const ORIGIN_ANNOTATION = 'config.kubernetes.io/origin';

export function resourceId(r: Resource): string {
  const ns = r.metadata?.namespace ? `${r.metadata.namespace}/` : '';
  return `${r.kind}/${ns}${r.metadata?.name ?? '(unnamed)'}`;
}

/** Parses a multi-document YAML stream; a syntax error is thrown with the document number. */
export function parseDocuments(text: string): Resource[] {
  const out: Resource[] = [];
  for (const [i, doc] of parseAllDocuments(text).entries()) {
    if (doc.errors.length > 0) throw new Error(`YAML document ${i + 1}: ${doc.errors[0]?.message}`);
    const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value))
      throw new Error(`YAML document ${i + 1} is not a mapping`);
    out.push(value as Resource);
  }
  return out;
}

/** Pod template spec of a workload kind, or undefined. */
// biome-ignore lint/suspicious/noExplicitAny: workload shapes differ per kind
export function podTemplate(r: Resource): { metadata?: any; spec?: any } | undefined {
  switch (r.kind) {
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'ReplicaSet':
    case 'Job':
    case 'Rollout':
      return r.spec?.template;
    case 'CronJob':
      return r.spec?.jobTemplate?.spec?.template;
    case 'Pod':
      return { metadata: r.metadata, spec: r.spec };
    default:
      return undefined;
  }
}

/**
 * The pods an operator creates for one of its custom resources (CloudNativePG `Cluster`,
 * RabbitMQ `RabbitmqCluster`, Istio's Envoy for a Gateway API `Gateway`): their labels and
 * container ports, as the operator documents them. The render holds no pod template for those pods, but Services, NetworkPolicies and
 * PodMonitors select them.
 */
export function operatorPods(r: Resource): { labels: Record<string, string>; ports: string[] } | undefined {
  const group = r.apiVersion?.split('/')[0];
  if (group === 'postgresql.cnpg.io' && r.kind === 'Cluster')
    return {
      labels: {
        ...(r.spec?.inheritedMetadata?.labels ?? {}),
        'cnpg.io/cluster': r.metadata.name,
        'cnpg.io/podRole': 'instance',
      },
      ports: ['5432/TCP', '8000/TCP', '9187/TCP'],
    };
  if (group === 'rabbitmq.com' && r.kind === 'RabbitmqCluster')
    return {
      labels: {
        'app.kubernetes.io/name': r.metadata.name,
        'app.kubernetes.io/component': 'rabbitmq',
        'app.kubernetes.io/part-of': 'rabbitmq',
        ...(r.spec?.override?.statefulSet?.spec?.template?.metadata?.labels ?? {}),
      },
      ports: ['5672/TCP', '15672/TCP', '15692/TCP', '4369/TCP', '25672/TCP'],
    };
  // A Gateway of class istio: istiod deploys an Envoy for it in the Gateway's namespace, its pods
  // labelled with the Gateway's name, listening on the listeners' ports (plus 15021, status).
  if (group === 'gateway.networking.k8s.io' && r.kind === 'Gateway' && r.spec?.gatewayClassName === 'istio')
    return {
      labels: {
        'gateway.networking.k8s.io/gateway-name': r.metadata.name,
        'istio.io/gateway-name': r.metadata.name,
      },
      ports: [
        ...new Set([
          ...((r.spec?.listeners ?? []) as { port: number }[]).map((l) => `${l.port}/TCP`),
          '15021/TCP',
        ]),
      ],
    };
  return undefined;
}

export const WORKLOAD_KINDS = new Set([
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'Job',
  'CronJob',
  'Pod',
  'Rollout',
]);
