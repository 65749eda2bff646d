import { containersOf, parseImage, type Rule, type Violation, violation, workloads } from '../policy.js';

export const imageTagPinned: Rule = {
  name: 'image-tag-pinned',
  description: 'Every image names a tag or digest, never `latest`.',
  check(ctx) {
    const out: Violation[] = [];
    for (const { item, template } of workloads(ctx)) {
      for (const c of containersOf(template.spec)) {
        const { tag, digest } = parseImage(c.spec.image ?? '');
        if (!tag && !digest)
          out.push(violation(this.name, item, `container ${c.name}: image ${c.spec.image} has no tag`));
        if (tag === 'latest')
          out.push(violation(this.name, item, `container ${c.name}: image ${c.spec.image} uses latest`));
      }
    }
    return out;
  },
};
