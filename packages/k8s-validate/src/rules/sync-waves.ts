import { find, type Rule, type Violation, violation } from '../policy.js';
import type { Resource } from '../resources.js';
import { rolloutReferences } from './rollout-consistent.js';

function wave(r: Resource): number {
  return Number(r.metadata?.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0);
}

export const syncWaves: Rule = {
  name: 'sync-waves',
  description:
    'Argo CD order: the Namespace comes in the earliest wave (Argo CD sorts by wave before kind, so an object of an earlier wave would meet no namespace), a datastore or Job comes after its ServiceAccount, datastore StatefulSets come in an earlier wave than the Jobs, Jobs are Sync hooks recreated on each sync (BeforeHookCreation), and the Jobs come before the service workloads; what a Rollout references (Services, VirtualServices, HTTPRoutes, AnalysisTemplates) comes in an earlier wave than the Rollout (applied together, the controller may reconcile it first: InvalidSpec, Degraded).',
  check(ctx) {
    const out: Violation[] = [];
    const stateful = ctx.items.filter((i) => i.resource.kind === 'StatefulSet');
    const jobs = ctx.items.filter((i) => i.resource.kind === 'Job');
    const services = ctx.items.filter((i) => ['Deployment', 'Rollout'].includes(i.resource.kind));
    const maxStateful = Math.max(...stateful.map((i) => wave(i.resource)));
    const minService = Math.min(...services.map((i) => wave(i.resource)));
    const namespaced = ctx.items.filter(
      (i) => i.resource.kind !== 'Namespace' && i.resource.metadata?.namespace,
    );
    const minNamespaced = Math.min(...namespaced.map((i) => wave(i.resource)));
    // An early workload's ServiceAccount must exist before its pods are created.
    for (const w of [...stateful, ...jobs]) {
      const sa = w.resource.spec?.template?.spec?.serviceAccountName as string | undefined;
      const account = ctx.items.find(
        (i) => i.resource.kind === 'ServiceAccount' && i.resource.metadata.name === sa,
      );
      if (account && wave(account.resource) >= wave(w.resource))
        out.push(
          violation(
            this.name,
            w,
            `wave ${wave(w.resource)}: its ServiceAccount ${sa} comes in wave ${wave(account.resource)}, not before`,
          ),
        );
    }
    for (const ns of ctx.items.filter((i) => i.resource.kind === 'Namespace')) {
      const w = wave(ns.resource);
      const inside = namespaced.filter((i) => i.resource.metadata?.namespace === ns.resource.metadata.name);
      if (inside.length > 0 && w > minNamespaced)
        out.push(
          violation(
            this.name,
            ns,
            `wave ${w} comes after objects it holds (wave ${minNamespaced}): give it the earliest wave`,
          ),
        );
    }
    for (const job of jobs) {
      const a = job.resource.metadata?.annotations ?? {};
      const w = wave(job.resource);
      if (a['argocd.argoproj.io/hook'] !== 'Sync')
        out.push(violation(this.name, job, 'must be an Argo CD Sync hook'));
      if (!(a['argocd.argoproj.io/hook-delete-policy'] ?? '').includes('BeforeHookCreation'))
        out.push(
          violation(this.name, job, 'needs hook-delete-policy BeforeHookCreation (Jobs are immutable)'),
        );
      if (stateful.length > 0 && w <= maxStateful)
        out.push(violation(this.name, job, `wave ${w} must come after the datastores (wave ${maxStateful})`));
      if (services.length > 0 && w >= minService)
        out.push(violation(this.name, job, `wave ${w} must come before the services (wave ${minService})`));
    }
    for (const ro of ctx.items.filter((i) => i.resource.kind === 'Rollout')) {
      const w = wave(ro.resource);
      for (const want of rolloutReferences(ro.resource)) {
        const target = find(ctx, want.kind, want.name);
        if (target && wave(target.resource) >= w)
          out.push(
            violation(
              this.name,
              ro,
              `wave ${w}: the ${want.kind} ${want.name} it references comes in wave ${wave(target.resource)}, not before`,
            ),
          );
      }
    }
    return out;
  },
};
