/**
 * What every policy rule shares: the rule and violation types, the context a rule checks, and
 * typed views of the rendered objects (the Kubernetes models of `kubernetes-models` and
 * `@kubernetes-models/*`, as types only). One rule per file lives in rules/; policies.ts
 * lists them.
 */
import type { ILabelSelector } from '@kubernetes-models/apimachinery/apis/meta/v1/LabelSelector';
import type { ICertificate } from '@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate';
import type { IPodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import { type Located, operatorPods, podTemplate, type Resource, resourceId } from './resources.js';

export type { IContainer, ILabelSelector, IPodSpec, IPodTemplateSpec };

export interface Violation {
  rule: string;
  file: string;
  resource: string;
  message: string;
}

export interface ExternalSecret {
  keys: string[];
  type?: string;
  createdBy?: string;
}

export interface ServiceEnv {
  known: string[];
  required: string[];
}

export interface PolicyContext {
  items: Located[];
  /** Directory names under services/ (the images the build produces). */
  serviceDirs: string[];
  /** Secrets documented in deploy/external-secrets.json. */
  externalSecrets: Record<string, ExternalSecret>;
  /** Per service directory: the settings its config schema knows, and those without a default. */
  serviceEnv: Record<string, ServiceEnv>;
}

export interface Rule {
  name: string;
  description: string;
  check(ctx: PolicyContext): Violation[];
}

/** The models of the kinds the rules read. */
export interface Kinds {
  Certificate: ICertificate;
  ConfigMap: IConfigMap;
  Deployment: IDeployment;
  HorizontalPodAutoscaler: IHorizontalPodAutoscaler;
  Ingress: IIngress;
  Job: IJob;
  NetworkPolicy: INetworkPolicy;
  PodDisruptionBudget: IPodDisruptionBudget;
  PodMonitor: IPodMonitor;
  Secret: ISecret;
  Service: IService;
  StatefulSet: IStatefulSet;
}

/** The object as its model when it is of that kind. (The API server checks that it fits.) */
export function asKind<K extends keyof Kinds>(r: Resource, kind: K): Kinds[K] | undefined {
  return r.kind === kind ? (r as unknown as Kinds[K]) : undefined;
}

/** Every rendered object of one kind, with its model. */
export function ofKind<K extends keyof Kinds>(
  ctx: PolicyContext,
  kind: K,
): { item: Located; obj: Kinds[K] }[] {
  return ctx.items.flatMap((item) => {
    const obj = asKind(item.resource, kind);
    return obj ? [{ item, obj }] : [];
  });
}

export function violation(rule: string, item: Located, message: string): Violation {
  return { rule, file: item.file, resource: `${resourceId(item.resource)} (${item.target})`, message };
}

export const CONTRACT_REGISTRY = 'ghcr.io';
export const PULL_SECRET = 'ghcr-pull-secret';
/**
 * Images that are not built here, by repository: the datastores, the job tooling and
 * production's Flagsmith (each pinned by an exact version tag where it is used).
 */
export const THIRD_PARTY_IMAGES = [
  'docker.io/library/postgres',
  'docker.io/library/mongo',
  'docker.io/library/redis',
  'docker.io/library/rabbitmq',
  'docker.io/curlimages/curl',
  'docker.io/flagsmith/flagsmith',
  // Tracing (monitoring/jaeger): Jaeger v2 and the OpenTelemetry Collector.
  'docker.io/jaegertracing/jaeger',
  'docker.io/otel/opentelemetry-collector-contrib',
  // Log shipping (monitoring/logging).
  'docker.io/fluent/fluent-bit',
];
// `observability`: the tracing and log-shipping workloads of monitoring/ (deploy/cluster).
export const COMPONENTS = ['api', 'worker', 'database', 'cache', 'broker', 'observability'];

export interface Container {
  name: string;
  init: boolean;
  spec: IContainer;
}

export function containersOf(podSpec: IPodSpec | undefined): Container[] {
  const init = (podSpec?.initContainers ?? []).map((c) => ({ name: c.name, init: true, spec: c }));
  const main = (podSpec?.containers ?? []).map((c) => ({ name: c.name, init: false, spec: c }));
  return [...init, ...main];
}

export interface Workload {
  item: Located;
  template: IPodTemplateSpec;
}

export function workloads(ctx: PolicyContext): Workload[] {
  const out: Workload[] = [];
  for (const item of ctx.items) {
    const template = podTemplate(item.resource) as IPodTemplateSpec | undefined;
    if (template) out.push({ item, template });
  }
  return out;
}

/** Splits an image reference into repository, tag and digest. */
export function parseImage(image: string): { repository: string; tag?: string; digest?: string } {
  let rest = image;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) return { repository: rest.slice(0, colon), tag: rest.slice(colon + 1), digest };
  return { repository: rest, digest };
}

export function isAppImage(image: string | undefined): boolean {
  return (image ?? '').startsWith(`${CONTRACT_REGISTRY}/`);
}

/** Whether a pod template runs one of this project's images (a platform service or its Job). */
export function runsPlatformImage(template: IPodTemplateSpec | undefined): boolean {
  return containersOf(template?.spec).some((c) => isAppImage(c.spec.image));
}

export function selectorMatches(
  selector: ILabelSelector | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (!selector) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(l, e.key);
    const val = l[e.key] ?? '';
    switch (e.operator) {
      case 'In':
        if (!has || !(e.values ?? []).includes(val)) return false;
        break;
      case 'NotIn':
        if (has && (e.values ?? []).includes(val)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

export function isEmptySelector(sel: ILabelSelector | undefined): boolean {
  return (
    !sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0)
  );
}

/** Labels of every pod the render leads to: workload templates, and pods operators create. */
export function podLabels(ctx: PolicyContext): Record<string, string>[] {
  return [
    ...workloads(ctx).map((w) => w.template.metadata?.labels ?? {}),
    ...ctx.items.flatMap((i) => {
      const made = operatorPods(i.resource);
      return made ? [made.labels] : [];
    }),
  ];
}

export function find(ctx: PolicyContext, kind: string, name: string): Located | undefined {
  return ctx.items.find((i) => i.resource.kind === kind && i.resource.metadata?.name === name);
}

/** The ConfigMap a kustomize generator made from `base` (its name carries a hash suffix). */
export function generatedConfigMap(ctx: PolicyContext, base: string): IConfigMap | undefined {
  const pattern = new RegExp(`^${base}(-[a-z0-9]+)?$`);
  return ofKind(ctx, 'ConfigMap').find(({ obj }) => pattern.test(obj.metadata?.name ?? ''))?.obj;
}

export function commonSetting(ctx: PolicyContext, key: string): number | undefined {
  const raw = generatedConfigMap(ctx, 'mdp-common-config')?.data?.[key];
  return raw === undefined ? undefined : Number(raw);
}

export function isLongRunning(r: Resource): boolean {
  return ['Deployment', 'StatefulSet', 'DaemonSet', 'Rollout'].includes(r.kind);
}

/** Keys of a ConfigMap or Secret. */
export function keysOf(obj: {
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  binaryData?: Record<string, string>;
}): string[] {
  return [
    ...Object.keys(obj.data ?? {}),
    ...Object.keys(obj.stringData ?? {}),
    ...Object.keys(obj.binaryData ?? {}),
  ];
}
