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
