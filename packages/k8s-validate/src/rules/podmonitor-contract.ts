import {
  ofKind,
  podLabels,
  type Rule,
  runsPlatformImage,
  selectorMatches,
  type Violation,
  violation,
  workloads,
} from '../policy.js';

const APP_RELABELING: [string, string] = ['app', '__meta_kubernetes_pod_label_app_kubernetes_io_name'];
const SERVICE_RELABELINGS: [string, string][] = [
  APP_RELABELING,
  ['version', '__meta_kubernetes_pod_label_app_kubernetes_io_version'],
  ['rollouts_pod_template_hash', '__meta_kubernetes_pod_label_rollouts_pod_template_hash'],
];
/** A datastore's exporter has its own port and path; its series only need the app label. */
// Third-party workloads (datastores, tracing): their own metrics port and path; only `app` relabelled.
const DATASTORE_COMPONENTS = new Set(['database', 'cache', 'broker', 'observability']);

export const podMonitorContract: Rule = {
  name: 'podmonitor-contract',
  description:
    'Every PodMonitor selects existing pods (operator-made ones included) and relabels app from the pod labels; a service PodMonitor scrapes /metrics on the http port and relabels version and rollouts_pod_template_hash too; every platform Deployment is scraped by one.',
  check(ctx) {
    const out: Violation[] = [];
    const ws = workloads(ctx);
    const monitors = ofKind(ctx, 'PodMonitor');
    const labels = podLabels(ctx);
    for (const { item, obj } of monitors) {
      const spec = obj.spec;
      if (!labels.some((l) => selectorMatches(spec.selector, l)))
        out.push(violation(this.name, item, 'selector matches no pod template'));
      const datastore = DATASTORE_COMPONENTS.has(obj.metadata?.labels?.['app.kubernetes.io/component'] ?? '');
      for (const ep of spec.podMetricsEndpoints ?? []) {
        if (!datastore && (ep.port !== 'http' || (ep.path ?? '/metrics') !== '/metrics'))
          out.push(violation(this.name, item, 'endpoint must scrape /metrics on port http'));
        const targets = new Map((ep.relabelings ?? []).map((r) => [r.targetLabel, r.sourceLabels ?? []]));
        for (const [target, source] of datastore ? [APP_RELABELING] : SERVICE_RELABELINGS)
          if (!targets.get(target)?.includes(source))
            out.push(violation(this.name, item, `no relabeling of ${source} into ${target}`));
      }
    }
    for (const w of ws) {
      if (!['Deployment', 'Rollout'].includes(w.item.resource.kind)) continue;
      // Every platform workload; a third-party one (Flagsmith) may have no metrics to scrape.
      if (!runsPlatformImage(w.template)) continue;
      const scraped = monitors.some(({ obj }) =>
        selectorMatches(obj.spec.selector, w.template.metadata?.labels),
      );
      if (!scraped) out.push(violation(this.name, w.item, 'no PodMonitor scrapes this workload'));
    }
    return out;
  },
};
