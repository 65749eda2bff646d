import {
  commonSetting,
  containersOf,
  isAppImage,
  isLongRunning,
  type Rule,
  type Violation,
  violation,
  workloads,
} from '../policy.js';

export const gracefulShutdown: Rule = {
  name: 'graceful-shutdown',
  description:
    'Platform containers wait in preStop at least SHUTDOWN_DRAIN_MS, and terminationGracePeriodSeconds exceeds that wait plus SHUTDOWN_TIMEOUT_MS.',
  check(ctx) {
    const out: Violation[] = [];
    const drain = commonSetting(ctx, 'SHUTDOWN_DRAIN_MS') ?? 3000;
    const timeout = commonSetting(ctx, 'SHUTDOWN_TIMEOUT_MS') ?? 10000;
    for (const { item, template } of workloads(ctx)) {
      if (!isLongRunning(item.resource)) continue;
      for (const c of containersOf(template.spec)) {
        if (c.init || !isAppImage(c.spec.image)) continue;
        const wait = Number(c.spec.lifecycle?.preStop?.sleep?.seconds ?? 0);
        if (wait * 1000 < drain)
          out.push(
            violation(
              this.name,
              item,
              `container ${c.name}: preStop sleep ${wait}s is shorter than ${drain} ms`,
            ),
          );
        const grace = Number(template.spec?.terminationGracePeriodSeconds ?? 30);
        if (grace * 1000 <= wait * 1000 + timeout)
          out.push(
            violation(
              this.name,
              item,
              `terminationGracePeriodSeconds ${grace} must exceed preStop ${wait}s + SHUTDOWN_TIMEOUT_MS ${timeout} ms`,
            ),
          );
      }
    }
    return out;
  },
};
