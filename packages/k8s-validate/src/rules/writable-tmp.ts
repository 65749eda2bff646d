import { containersOf, isAppImage, type Rule, type Violation, violation, workloads } from '../policy.js';

export const writableTmp: Rule = {
  name: 'writable-tmp',
  description:
    'Every container of the platform image mounts an emptyDir at /tmp (the root filesystem is read-only).',
  check(ctx) {
    const out: Violation[] = [];
    for (const { item, template } of workloads(ctx)) {
      const emptyDirs = new Set(
        (template.spec?.volumes ?? []).filter((vol) => vol.emptyDir).map((vol) => vol.name),
      );
      for (const c of containersOf(template.spec)) {
        if (!isAppImage(c.spec.image)) continue;
        const ok = (c.spec.volumeMounts ?? []).some((m) => m.mountPath === '/tmp' && emptyDirs.has(m.name));
        if (!ok) out.push(violation(this.name, item, `container ${c.name}: no emptyDir mounted at /tmp`));
      }
    }
    return out;
  },
};
