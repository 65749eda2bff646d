import { find, type Rule, type Violation, violation, workloads } from '../policy.js';

/**
 * Why a namespace that enforces `privileged` may (empty = it may): only the log shipper's
 * (monitoring/logging) — nothing but DaemonSets of component observability in it, whose hostPath
 * volumes are mounted read-only except one state directory under /var/lib/.
 */
function privilegedProblems(ctx: Parameters<Rule['check']>[0], ns: string): string[] {
  const out: string[] = [];
  const inNs = workloads(ctx).filter((w) => w.item.resource.metadata?.namespace === ns);
  if (!inNs.length) out.push('a privileged namespace without a log shipper in it');
  for (const { item, template } of inNs) {
    const name = `${item.resource.kind}/${item.resource.metadata?.name}`;
    if (item.resource.kind !== 'DaemonSet') out.push(`${name}: only DaemonSets may run privileged`);
    if (template.metadata?.labels?.['app.kubernetes.io/component'] !== 'observability')
      out.push(`${name}: only component observability may run privileged`);
    const hostPaths = new Map(
      (template.spec?.volumes ?? []).filter((v) => v.hostPath).map((v) => [v.name, v.hostPath?.path ?? '']),
    );
    for (const c of [...(template.spec?.initContainers ?? []), ...(template.spec?.containers ?? [])])
      for (const m of c.volumeMounts ?? []) {
        const p = hostPaths.get(m.name);
        if (p !== undefined && !m.readOnly && !/^\/var\/lib\/[^/]+$/.test(p))
          out.push(
            `${name}: hostPath ${p} must be mounted read-only (writable: one directory under /var/lib/)`,
          );
      }
  }
  return out;
}

/**
 * Namespaces that an operator's own install creates and owns (deploy/cluster only configures
 * it there, never runs a workload there): argo-rollouts (the controller's install manifest;
 * deploy/cluster/argo-rollouts-config.yaml is its ConfigMap). Rendering the Namespace here too
 * would give it two owners in Argo CD.
 */
const INSTALLED_NAMESPACES = new Set(['argo-rollouts']);

export const namespacePsa: Rule = {
  name: 'namespace-psa',
  description:
    "A render that places objects in a namespace also renders that Namespace, labelled to enforce the restricted Pod Security Standard (which the API server then applies to every pod); only a log shipper's namespace (DaemonSets of component observability, hostPath read-only but one state directory under /var/lib/) may enforce privileged.",
  check(ctx) {
    const out: Violation[] = [];
    const namespaces = new Set(
      ctx.items.map((i) => i.resource.metadata?.namespace).filter((n): n is string => typeof n === 'string'),
    );
    const hasWorkloads = workloads(ctx).length > 0;
    for (const ns of namespaces) {
      const item = find(ctx, 'Namespace', ns);
      if (!item) {
        const workloadHere = workloads(ctx).some((w) => w.item.resource.metadata?.namespace === ns);
        if (INSTALLED_NAMESPACES.has(ns) && !workloadHere) continue;
        if (hasWorkloads) {
          const first = ctx.items.find((i) => i.resource.metadata?.namespace === ns);
          if (first) out.push(violation(this.name, first, `namespace ${ns} is not part of the render`));
        }
        continue;
      }
      const l = item.resource.metadata?.labels ?? {};
      const enforce = l['pod-security.kubernetes.io/enforce'];
      if (enforce === 'privileged')
        for (const p of privilegedProblems(ctx, ns)) out.push(violation(this.name, item, p));
      else if (enforce !== 'restricted')
        out.push(violation(this.name, item, 'pod-security.kubernetes.io/enforce must be restricted'));
    }
    return out;
  },
};
