import type { ILabelSelector } from '../policy.js';
import {
  isEmptySelector,
  ofKind,
  podLabels,
  type Rule,
  selectorMatches,
  type Violation,
  violation,
} from '../policy.js';

export const networkPolicySelectsPods: Rule = {
  name: 'networkpolicy-selects-pods',
  description:
    'Every NetworkPolicy with a non-empty podSelector selects existing pods, and every in-namespace peer selector selects existing pods.',
  check(ctx) {
    const out: Violation[] = [];
    const labels = podLabels(ctx);
    const selectsSome = (sel: ILabelSelector) => labels.some((l) => selectorMatches(sel, l));
    for (const { item, obj } of ofKind(ctx, 'NetworkPolicy')) {
      const spec = obj.spec;
      if (!spec) continue;
      if (spec.podSelector && !isEmptySelector(spec.podSelector) && !selectsSome(spec.podSelector))
        out.push(violation(this.name, item, 'podSelector selects no pod template'));
      const peers = [
        ...(spec.ingress ?? []).flatMap((r) => r.from ?? []),
        ...(spec.egress ?? []).flatMap((r) => r.to ?? []),
      ];
      for (const peer of peers) {
        if (peer.namespaceSelector || peer.ipBlock || !peer.podSelector) continue;
        if (!isEmptySelector(peer.podSelector) && !selectsSome(peer.podSelector))
          out.push(
            violation(this.name, item, `peer ${JSON.stringify(peer.podSelector)} selects no pod template`),
          );
      }
    }
    return out;
  },
};
