/**
 * The load-test gate of the SLO page the platform agrees on (shared SLO.md): p99 per operation
 * group under its latency target, and an error rate of at most 0.1 %.
 */
export type Group = 'auth' | 'catalog' | 'orders' | 'notifications';

/** p99 latency targets (ms) per group. notifications has no target of its own: orders' 500 ms. */
export const P99_TARGET_MS: Record<Group, number> = {
  auth: 1000,
  catalog: 250,
  orders: 500,
  notifications: 500,
};
export const MAX_ERROR_RATE = 0.001;

export interface GroupFigures {
  group: Group;
  requests: number;
  /** Responses other than the operation's documented success, plus timeouts and connection errors. */
  errors: number;
  p50Ms: number;
  p99Ms: number;
  statuses: Record<string, number>;
}

export interface Verdict {
  pass: boolean;
  errorRate: number;
  failures: string[];
}

export function judge(groups: GroupFigures[]): Verdict {
  const failures: string[] = [];
  let requests = 0;
  let errors = 0;
  for (const g of groups) {
    requests += g.requests;
    errors += g.errors;
    if (g.requests === 0) failures.push(`${g.group}: no request completed`);
    else if (!(g.p99Ms < P99_TARGET_MS[g.group]))
      failures.push(`${g.group}: p99 ${g.p99Ms} ms >= ${P99_TARGET_MS[g.group]} ms`);
  }
  // No traffic is no evidence: an empty run fails rather than passes.
  const errorRate = requests ? errors / requests : 1;
  if (!(errorRate <= MAX_ERROR_RATE))
    failures.push(`error rate ${(errorRate * 100).toFixed(3)} % > ${MAX_ERROR_RATE * 100} %`);
  return { pass: failures.length === 0, errorRate, failures };
}
