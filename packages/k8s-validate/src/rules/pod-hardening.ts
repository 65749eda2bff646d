import { containersOf, type Rule, type Violation, violation, workloads } from '../policy.js';

/**
 * What the restricted Pod Security Standard does not ask for. The API server's PodSecurity
 * admission judges the rest (non-root, seccomp, no privilege escalation, capabilities dropped,
 * no host namespaces or hostPath): see the server-side stage.
 */
export const podHardening: Rule = {
  name: 'pod-hardening',
  description:
    'Beyond Pod Security "restricted" (which the API server enforces): pods mount no service-account token, and every container has a read-only root filesystem and adds no capability.',
  check(ctx) {
    const out: Violation[] = [];
    for (const { item, template } of workloads(ctx)) {
      const v = (m: string) => out.push(violation(this.name, item, m));
      if (template.spec?.automountServiceAccountToken !== false)
        v('automountServiceAccountToken must be false');
      for (const c of containersOf(template.spec)) {
        const sc = c.spec.securityContext ?? {};
        const where = `${c.init ? 'init container' : 'container'} ${c.name}`;
        if (sc.readOnlyRootFilesystem !== true) v(`${where}: readOnlyRootFilesystem must be true`);
        if ((sc.capabilities?.add ?? []).length > 0) v(`${where}: capabilities.add is not allowed`);
      }
    }
    return out;
  },
};
