import { containersOf, type Rule, type Violation, violation, workloads } from '../policy.js';

export const resourcesSet: Rule = {
  name: 'resources-set',
  description: 'Every container (init containers too) requests CPU and memory and has CPU and memory limits.',
  check(ctx) {
    const out: Violation[] = [];
    for (const { item, template } of workloads(ctx)) {
      for (const c of containersOf(template.spec)) {
        const r = c.spec.resources ?? {};
        for (const kind of ['requests', 'limits'] as const)
          for (const res of ['cpu', 'memory'])
            if (r[kind]?.[res] === undefined)
              out.push(
                violation(this.name, item, `container ${c.name}: resources.${kind}.${res} is not set`),
              );
      }
    }
    return out;
  },
};
