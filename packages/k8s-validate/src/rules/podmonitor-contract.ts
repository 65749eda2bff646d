import { ofKind, type Rule, selectorMatches, type Violation, violation, workloads } from '../policy.js';

const EXPECTED_RELABELINGS: [string, string][] = [
  ['app', '__meta_kubernetes_pod_label_app_kubernetes_io_name'],
  ['version', '__meta_kubernetes_pod_label_app_kubernetes_io_version'],
  ['rollouts_pod_template_hash', '__meta_kubernetes_pod_label_rollouts_pod_template_hash'],
];

export const podMonitorContract: Rule = {
  name: 'podmonitor-contract',
  description:
    'Every PodMonitor selects existing pods, scrapes /metrics on the http port, and relabels app, version and rollouts_pod_template_hash from the pod labels; every platform Deployment is scraped by one.',
  check(ctx) {
    const out: Violation[] = [];
    const ws = workloads(ctx);
    const monitors = ofKind(ctx, 'PodMonitor');
    for (const { item, obj } of monitors) {
      const spec = obj.spec;
      if (!ws.some((w) => selectorMatches(spec.selector, w.template.metadata?.labels)))
        out.push(violation(this.name, item, 'selector matches no pod template'));
      for (const ep of spec.podMetricsEndpoints ?? []) {
        if (ep.port !== 'http' || (ep.path ?? '/metrics') !== '/metrics')
          out.push(violation(this.name, item, 'endpoint must scrape /metrics on port http'));
        const targets = new Map((ep.relabelings ?? []).map((r) => [r.targetLabel, r.sourceLabels ?? []]));
        for (const [target, source] of EXPECTED_RELABELINGS)
          if (!targets.get(target)?.includes(source))
            out.push(violation(this.name, item, `no relabeling of ${source} into ${target}`));
      }
    }
    for (const w of ws) {
      if (!['Deployment', 'Rollout'].includes(w.item.resource.kind)) continue;
      const scraped = monitors.some(({ obj }) =>
        selectorMatches(obj.spec.selector, w.template.metadata?.labels),
      );
      if (!scraped) out.push(violation(this.name, w.item, 'no PodMonitor scrapes this workload'));
    }
    return out;
  },
};
