import { find, ofKind, type Rule, selectorMatches, type Violation, violation, workloads } from '../policy.js';

export const autoscalingConsistent: Rule = {
  name: 'autoscaling-consistent',
  description:
    'Every HorizontalPodAutoscaler targets a rendered workload that leaves replicas to it, and every PodDisruptionBudget selects pods of a workload.',
  check(ctx) {
    const out: Violation[] = [];
    const ws = workloads(ctx);
    for (const { item, obj } of ofKind(ctx, 'HorizontalPodAutoscaler')) {
      const ref = obj.spec?.scaleTargetRef;
      const target = ref ? find(ctx, ref.kind, ref.name) : undefined;
      const replicas = (target?.resource.spec as { replicas?: number } | undefined)?.replicas;
      if (!target)
        out.push(violation(this.name, item, `scaleTargetRef ${ref?.kind}/${ref?.name} is not in the render`));
      else if (replicas !== undefined)
        out.push(
          violation(this.name, item, `${ref?.kind}/${ref?.name} sets replicas, which fights the autoscaler`),
        );
      if ((obj.spec?.minReplicas ?? 1) > (obj.spec?.maxReplicas ?? 0))
        out.push(violation(this.name, item, 'minReplicas exceeds maxReplicas'));
    }
    for (const { item, obj } of ofKind(ctx, 'PodDisruptionBudget')) {
      if (!ws.some((w) => selectorMatches(obj.spec?.selector, w.template.metadata?.labels)))
        out.push(violation(this.name, item, 'selector matches no pod template'));
    }
    return out;
  },
};
