import { containersOf, ofKind, type Rule, type Violation, violation } from '../policy.js';

export const statefulPvc: Rule = {
  name: 'stateful-pvc',
  description:
    'Datastores (component database, cache or broker) run as StatefulSets, and every StatefulSet keeps its data on a volumeClaimTemplate that a container mounts, with a size set.',
  check(ctx) {
    const out: Violation[] = [];
    for (const item of ctx.items) {
      const r = item.resource;
      const component = r.metadata?.labels?.['app.kubernetes.io/component'] ?? '';
      if (
        ['Deployment', 'DaemonSet', 'Rollout'].includes(r.kind) &&
        ['database', 'cache', 'broker'].includes(component)
      )
        out.push(violation(this.name, item, `a ${component} must be a StatefulSet, not a ${r.kind}`));
    }
    for (const { item, obj } of ofKind(ctx, 'StatefulSet')) {
      const claims = obj.spec?.volumeClaimTemplates ?? [];
      if (claims.length === 0) {
        out.push(violation(this.name, item, 'has no volumeClaimTemplates'));
        continue;
      }
      const mounted = new Set(
        containersOf(obj.spec?.template?.spec).flatMap((c) => (c.spec.volumeMounts ?? []).map((m) => m.name)),
      );
      for (const claim of claims) {
        const name = claim.metadata?.name ?? '';
        if (!mounted.has(name))
          out.push(violation(this.name, item, `volumeClaimTemplate ${name} is not mounted`));
        if (!claim.spec?.resources?.requests?.storage)
          out.push(violation(this.name, item, `volumeClaimTemplate ${name} has no storage size`));
      }
    }
    return out;
  },
};
