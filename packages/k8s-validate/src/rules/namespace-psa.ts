import { find, type Rule, type Violation, violation, workloads } from '../policy.js';

export const namespacePsa: Rule = {
  name: 'namespace-psa',
  description:
    'A render that places objects in a namespace also renders that Namespace, labelled to enforce the restricted Pod Security Standard (which the API server then applies to every pod).',
  check(ctx) {
    const out: Violation[] = [];
    const namespaces = new Set(
      ctx.items.map((i) => i.resource.metadata?.namespace).filter((n): n is string => typeof n === 'string'),
    );
    const hasWorkloads = workloads(ctx).length > 0;
    for (const ns of namespaces) {
      const item = find(ctx, 'Namespace', ns);
      if (!item) {
        if (hasWorkloads) {
          const first = ctx.items.find((i) => i.resource.metadata?.namespace === ns);
          if (first) out.push(violation(this.name, first, `namespace ${ns} is not part of the render`));
        }
        continue;
      }
      const l = item.resource.metadata?.labels ?? {};
      if (l['pod-security.kubernetes.io/enforce'] !== 'restricted')
        out.push(violation(this.name, item, 'pod-security.kubernetes.io/enforce must be restricted'));
    }
    return out;
  },
};
