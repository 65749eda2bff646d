import { type Rule, type Violation, violation } from '../policy.js';
import type { Resource } from '../resources.js';

function wave(r: Resource): number {
  return Number(r.metadata?.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0);
}

export const syncWaves: Rule = {
  name: 'sync-waves',
  description:
    'Argo CD order: datastore StatefulSets come in an earlier wave than the Jobs, Jobs are Sync hooks recreated on each sync (BeforeHookCreation), and the Jobs come before the service workloads.',
  check(ctx) {
    const out: Violation[] = [];
    const stateful = ctx.items.filter((i) => i.resource.kind === 'StatefulSet');
    const jobs = ctx.items.filter((i) => i.resource.kind === 'Job');
    const services = ctx.items.filter((i) => ['Deployment', 'Rollout'].includes(i.resource.kind));
    const maxStateful = Math.max(...stateful.map((i) => wave(i.resource)));
    const minService = Math.min(...services.map((i) => wave(i.resource)));
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
    return out;
  },
};
