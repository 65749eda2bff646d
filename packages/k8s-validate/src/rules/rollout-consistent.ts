import {
  find,
  type IPodTemplateSpec,
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

// Third-party Deployments (Flagsmith) roll out as plain Deployments: only our images are released.
const isPlatformService = (r: Resource) =>
  r.kind === 'Deployment' &&
  runsPlatformImage(r.spec?.template as IPodTemplateSpec | undefined) &&
  r.metadata.labels?.['app.kubernetes.io/part-of'] === 'mdp' &&
  ['api', 'worker'].includes(r.metadata.labels?.['app.kubernetes.io/component'] ?? '');

export const rolloutConsistent: Rule = {
  name: 'rollout-consistent',
  description:
    'Every platform service Deployment is released by exactly one Argo Rollout (workloadRef) that selects its pods and leaves its replicas alone; the Services a strategy names select those pods; every AnalysisTemplate a Rollout runs is rendered and gets every argument it has no default for; autoscalers scale the Rollout.',
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
