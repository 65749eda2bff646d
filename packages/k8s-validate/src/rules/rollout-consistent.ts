import {
  find,
  type IPodTemplateSpec,
  type PolicyContext,
  type Rule,
  runsPlatformImage,
  selectorMatches,
  type Violation,
  violation,
} from '../policy.js';
import type { Located, Resource } from '../resources.js';

// biome-ignore lint/suspicious/noExplicitAny: Rollout and AnalysisTemplate are free-form here (the API server checks their CRD schemas)
type Any = any;

/** Every analysis a Rollout starts: background, inline steps, blue-green pre/post promotion. */
export function rolloutAnalyses(r: Resource): { where: string; templates: Any[]; args: Any[] }[] {
  const canary = r.spec?.strategy?.canary;
  const blueGreen = r.spec?.strategy?.blueGreen;
  const out: { where: string; templates: Any[]; args: Any[] }[] = [];
  const add = (where: string, a: Any) => {
    if (a) out.push({ where, templates: a.templates ?? [], args: a.args ?? [] });
  };
  add('canary.analysis', canary?.analysis);
  for (const [n, step] of (canary?.steps ?? []).entries()) add(`canary.steps[${n}].analysis`, step.analysis);
  add('blueGreen.prePromotionAnalysis', blueGreen?.prePromotionAnalysis);
  add('blueGreen.postPromotionAnalysis', blueGreen?.postPromotionAnalysis);
  return out;
}

/** The Services a Rollout's strategy names, with their role. */
function strategyServices(r: Resource): [string, string][] {
  const canary = r.spec?.strategy?.canary ?? {};
  const blueGreen = r.spec?.strategy?.blueGreen ?? {};
  return (
    [
      ['stableService', canary.stableService],
      ['canaryService', canary.canaryService],
      ['activeService', blueGreen.activeService],
      ['previewService', blueGreen.previewService],
    ] as [string, string | undefined][]
  ).filter((e): e is [string, string] => typeof e[1] === 'string');
}

/** The plugin name of Argo Rollouts' Gateway API traffic router (upstream's, and our stand-in's). */
export const GATEWAY_API_PLUGIN = 'argoproj-labs/gatewayAPI';

/** The HTTPRoutes a Gateway API plugin config names (httpRoute / httpRoutes). */
const httpRoutesOf = (config: Any): string[] => [
  ...(config?.httpRoute ? [config.httpRoute] : []),
  ...((config?.httpRoutes ?? []) as Any[]).map((r) => r.name),
];

/** The Istio VirtualServices (name, routes) a trafficRouting names. */
const virtualServicesOf = (tr: Any): Any[] => [
  ...(tr?.istio?.virtualService ? [tr.istio.virtualService] : []),
  ...((tr?.istio?.virtualServices ?? []) as Any[]),
];

/**
 * What a canary's traffic router needs from the render: the Gateway API plugin's HTTPRoutes
 * (httpRoute / httpRoutes, in the Rollout's namespace) and Istio's VirtualServices (and their
 * named routes) exist, and each has a backend (destination) of both the stable and the canary
 * Service, the only two the weights are written to.
 */
export function trafficRoutingProblems(ctx: PolicyContext, ro: Resource): string[] {
  const canary = ro.spec?.strategy?.canary;
  const tr = canary?.trafficRouting;
  if (!tr) return [];
  const out: string[] = [];
  const pair = [canary.stableService, canary.canaryService] as (string | undefined)[];
  if (!pair[0] || !pair[1]) out.push('trafficRouting needs both stableService and canaryService');
  for (const [name, config] of Object.entries((tr.plugins ?? {}) as Record<string, Any>)) {
    if (name !== GATEWAY_API_PLUGIN) {
      out.push(
        `trafficRouting plugin ${name} is not registered (argo-rollouts-config knows ${GATEWAY_API_PLUGIN})`,
      );
      continue;
    }
    if (config?.namespace && config.namespace !== ro.metadata.namespace)
      out.push(`${name}: routes of namespace ${config.namespace} are outside the render`);
    const routes = httpRoutesOf(config);
    if (routes.length === 0) out.push(`${name}: names no HTTPRoute`);
    for (const route of routes) {
      const r = find(ctx, 'HTTPRoute', route);
      if (!r) {
        out.push(`${name}: HTTPRoute ${route} is not in the render`);
        continue;
      }
      const refs = ((r.resource.spec?.rules ?? []) as Any[]).flatMap((x) => x.backendRefs ?? []);
      for (const svc of pair)
        if (svc && !refs.some((b: Any) => b.name === svc))
          out.push(`${name}: HTTPRoute ${route} has no backendRef ${svc}`);
    }
  }
  for (const vs of virtualServicesOf(tr)) {
    const v = find(ctx, 'VirtualService', vs.name);
    if (!v) {
      out.push(`istio: VirtualService ${vs.name} is not in the render`);
      continue;
    }
    const http = (v.resource.spec?.http ?? []) as Any[];
    for (const routeName of (vs.routes ?? []) as string[]) {
      const route = http.find((h) => h.name === routeName);
      if (!route) {
        out.push(`istio: VirtualService ${vs.name} has no http route ${routeName}`);
        continue;
      }
      const hosts = ((route.route ?? []) as Any[]).map((d) => d.destination?.host);
      for (const svc of pair)
        if (svc && !hosts.includes(svc))
          out.push(`istio: VirtualService ${vs.name} route ${routeName} has no destination ${svc}`);
    }
  }
  return out;
}

/**
 * The objects the controller looks up when it reconciles a Rollout (else InvalidSpec, Degraded):
 * the Services its strategy names, its traffic router's VirtualServices and HTTPRoutes, and the
 * AnalysisTemplates its analyses run.
 */
export function rolloutReferences(r: Resource): { kind: string; name: string }[] {
  const tr = r.spec?.strategy?.canary?.trafficRouting;
  return [
    ...strategyServices(r).map(([, name]) => ({ kind: 'Service', name })),
    ...virtualServicesOf(tr).map((vs) => ({ kind: 'VirtualService', name: vs.name as string })),
    ...httpRoutesOf(tr?.plugins?.[GATEWAY_API_PLUGIN]).map((name) => ({ kind: 'HTTPRoute', name })),
    ...rolloutAnalyses(r).flatMap((a) =>
      a.templates.map((t: Any) => ({
        kind: t.clusterScope ? 'ClusterAnalysisTemplate' : 'AnalysisTemplate',
        name: t.templateName as string,
      })),
    ),
  ];
}

// Third-party Deployments (Flagsmith) roll out as plain Deployments: only our images are released.
const isPlatformService = (r: Resource) =>
  r.kind === 'Deployment' &&
  runsPlatformImage(r.spec?.template as IPodTemplateSpec | undefined) &&
  r.metadata.labels?.['app.kubernetes.io/part-of'] === 'mdp' &&
  ['api', 'worker'].includes(r.metadata.labels?.['app.kubernetes.io/component'] ?? '');

export const rolloutConsistent: Rule = {
  name: 'rollout-consistent',
  description:
    'Every platform service Deployment is released by exactly one Argo Rollout (workloadRef) that selects its pods and leaves its replicas alone; the Services a strategy names select those pods; a canary’s traffic router (the Gateway API plugin’s HTTPRoutes, Istio’s VirtualService routes) is rendered and has backends of both its stable and canary Services; every AnalysisTemplate a Rollout runs is rendered and gets every argument it has no default for; autoscalers scale the Rollout.',
  check(ctx) {
    const out: Violation[] = [];
    const rollouts = ctx.items.filter((i) => i.resource.kind === 'Rollout');
    const refOf = (i: Located) => i.resource.spec?.workloadRef;
    for (const item of ctx.items) {
      const r = item.resource;
      if (!isPlatformService(r)) continue;
      const by = rollouts.filter(
        (ro) => refOf(ro)?.kind === 'Deployment' && refOf(ro)?.name === r.metadata.name,
      );
      if (by.length !== 1)
        out.push(violation(this.name, item, `is referenced by ${by.length} Rollouts (workloadRef), want 1`));
      if (by.length > 0 && r.spec?.replicas !== undefined)
        out.push(
          violation(
            this.name,
            item,
            'sets replicas although a Rollout releases it (the controller keeps it at 0; the replicas are the Rollout’s)',
          ),
        );
    }
    for (const item of rollouts) {
      const ro = item.resource;
      const ref = refOf(item);
      const target = ref ? find(ctx, ref.kind, ref.name) : undefined;
      const labels = target?.resource.spec?.template?.metadata?.labels ?? ro.spec?.template?.metadata?.labels;
      if (ref && !target)
        out.push(violation(this.name, item, `workloadRef ${ref.kind}/${ref.name} is not in the render`));
      if (ref && ref.scaleDown !== 'progressively' && ref.scaleDown !== 'onsuccess')
        out.push(
          violation(
            this.name,
            item,
            'workloadRef.scaleDown must be progressively or onsuccess (else both run pods)',
          ),
        );
      if (labels && !selectorMatches(ro.spec?.selector, labels))
        out.push(violation(this.name, item, 'selector does not match the pod template'));
      for (const [role, name] of strategyServices(ro)) {
        const svc = find(ctx, 'Service', name);
        if (!svc) out.push(violation(this.name, item, `${role} ${name} is not in the render`));
        else if (labels && !selectorMatches({ matchLabels: svc.resource.spec?.selector ?? {} }, labels))
          out.push(violation(this.name, item, `${role} ${name} does not select the Rollout's pods`));
      }
      for (const m of trafficRoutingProblems(ctx, ro)) out.push(violation(this.name, item, m));
      for (const a of rolloutAnalyses(ro)) {
        const given = new Set((a.args as Any[]).map((x) => x.name));
        for (const t of a.templates) {
          const kind = t.clusterScope ? 'ClusterAnalysisTemplate' : 'AnalysisTemplate';
          const tmpl = find(ctx, kind, t.templateName);
          if (!tmpl) {
            out.push(
              violation(this.name, item, `${a.where}: ${kind} ${t.templateName} is not in the render`),
            );
            continue;
          }
          for (const arg of tmpl.resource.spec?.args ?? [])
            if (arg.value === undefined && arg.valueFrom === undefined && !given.has(arg.name))
              out.push(
                violation(this.name, item, `${a.where}: ${t.templateName} needs argument ${arg.name}`),
              );
        }
      }
    }
    for (const item of ctx.items) {
      if (item.resource.kind !== 'HorizontalPodAutoscaler') continue;
      const ref = item.resource.spec?.scaleTargetRef;
      if (
        ref?.kind === 'Deployment' &&
        rollouts.some((ro) => refOf(ro)?.kind === 'Deployment' && refOf(ro)?.name === ref.name)
      )
        out.push(
          violation(
            this.name,
            item,
            `scales Deployment/${ref.name}, which a Rollout releases: target the Rollout`,
          ),
        );
    }
    return out;
  },
};
