import {
  containersOf,
  ofKind,
  type Rule,
  selectorMatches,
  type Violation,
  violation,
  workloads,
} from '../policy.js';

export const serviceSelectsPods: Rule = {
  name: 'service-selects-pods',
  description: 'Every Service selects the pods of some workload, and each named targetPort exists on them.',
  check(ctx) {
    const out: Violation[] = [];
    const ws = workloads(ctx);
    for (const { item, obj } of ofKind(ctx, 'Service')) {
      if (obj.spec?.type === 'ExternalName') continue;
      const selector = obj.spec?.selector;
      if (!selector || Object.keys(selector).length === 0) {
        out.push(violation(this.name, item, 'has no selector'));
        continue;
      }
      const matched = ws.filter((w) =>
        selectorMatches({ matchLabels: selector }, w.template.metadata?.labels),
      );
      if (matched.length === 0) {
        out.push(violation(this.name, item, `selector ${JSON.stringify(selector)} matches no pod template`));
        continue;
      }
      for (const port of obj.spec?.ports ?? []) {
        if (typeof port.targetPort !== 'string') continue;
        const found = matched.some((w) =>
          containersOf(w.template.spec).some((c) =>
            (c.spec.ports ?? []).some((p) => p.name === port.targetPort),
          ),
        );
        if (!found)
          out.push(violation(this.name, item, `targetPort ${port.targetPort} is not a container port name`));
      }
    }
    return out;
  },
};
