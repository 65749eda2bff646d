import type { IProbe } from 'kubernetes-models/v1/Probe';
import {
  containersOf,
  isAppImage,
  isLongRunning,
  type Rule,
  type Violation,
  violation,
  workloads,
} from '../policy.js';

const PROBES = ['startupProbe', 'livenessProbe', 'readinessProbe'] as const;
const EXPECT: Record<(typeof PROBES)[number], string> = {
  startupProbe: '/healthz',
  livenessProbe: '/healthz',
  readinessProbe: '/readyz',
};

export const contractProbes: Rule = {
  name: 'contract-probes',
  description:
    'Long-running containers have startup, liveness and readiness probes; platform containers listen on 8080 named http and probe /healthz (startup, liveness) and /readyz (readiness) on it.',
  check(ctx) {
    const out: Violation[] = [];
    for (const { item, template } of workloads(ctx)) {
      if (!isLongRunning(item.resource)) continue;
      for (const c of containersOf(template.spec)) {
        if (c.init) continue;
        const v = (m: string) => out.push(violation(this.name, item, `container ${c.name}: ${m}`));
        const s = c.spec;
        for (const p of PROBES) if (!s[p]) v(`${p} is missing`);
        if (!isAppImage(s.image)) continue;
        const http = (s.ports ?? []).find((p) => p.name === 'http');
        if (http?.containerPort !== 8080) v('needs containerPort 8080 named http');
        for (const p of PROBES) {
          const probe: IProbe | undefined = s[p];
          const get = probe?.httpGet;
          if (probe && (get?.path !== EXPECT[p] || (get?.port !== 'http' && get?.port !== 8080)))
            v(`${p} must be an HTTP GET of ${EXPECT[p]} on port http`);
        }
      }
    }
    return out;
  },
};
