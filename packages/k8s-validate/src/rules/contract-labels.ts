import { COMPONENTS, type Rule, type Violation, violation } from '../policy.js';
import { type Located, podTemplate } from '../resources.js';

const REQUIRED = [
  'app.kubernetes.io/name',
  'app.kubernetes.io/part-of',
  'app.kubernetes.io/version',
  'app.kubernetes.io/component',
];

export const contractLabels: Rule = {
  name: 'contract-labels',
  description:
    'Namespaced objects carry app.kubernetes.io/part-of=mdp; workloads and their pod templates carry app.kubernetes.io/name, part-of, version and a component of api|worker|database|cache|broker|observability.',
  check(ctx) {
    const out: Violation[] = [];
    const checkSet = (item: Located, labels: Record<string, string> | undefined, where: string) => {
      const l = labels ?? {};
      for (const k of REQUIRED) if (!l[k]) out.push(violation(this.name, item, `${where} lacks label ${k}`));
      if (l['app.kubernetes.io/part-of'] && l['app.kubernetes.io/part-of'] !== 'mdp')
        out.push(violation(this.name, item, `${where}: app.kubernetes.io/part-of must be mdp`));
      const comp = l['app.kubernetes.io/component'];
      if (comp && !COMPONENTS.includes(comp))
        out.push(
          violation(this.name, item, `${where}: component ${comp} is not one of ${COMPONENTS.join(', ')}`),
        );
    };
    for (const item of ctx.items) {
      const r = item.resource;
      const template = podTemplate(r);
      if (template) {
        checkSet(item, r.metadata?.labels, 'metadata');
        checkSet(item, template.metadata?.labels, 'pod template');
      } else if (r.metadata?.labels?.['app.kubernetes.io/part-of'] !== 'mdp') {
        out.push(violation(this.name, item, 'lacks label app.kubernetes.io/part-of=mdp'));
      }
    }
    return out;
  },
};
