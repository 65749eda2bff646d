/**
 * Instant queries against a live Prometheus, and the one list of series that cannot exist in the
 * live test (each with its reason). A query may come back empty only when a metric it reads is
 * absent from Prometheus and every absent one is on that list, or is recorded by a rule that was
 * itself allowed to be empty; anything else empty is a failure.
 */
import { metricNames } from '@mdp/monitoring/metric-names';

/** Metrics that no process of the live test produces, and why. */
export const CANNOT_EXIST_HERE: { pattern: RegExp; reason: string }[] = [
  { pattern: /^kube_/, reason: 'kube-state-metrics: no Kubernetes cluster runs in this test' },
  { pattern: /^rollout_/, reason: 'Argo Rollouts controller: no Rollout objects outside a cluster' },
  { pattern: /^certmanager_/, reason: 'cert-manager: no certificates outside a cluster' },
  {
    pattern: /^mongodb_up$/,
    reason: 'MongoDB exporter: product-service runs on its PostgreSQL catalog here (no MongoDB)',
  },
  {
    pattern: /^cnpg_collector_up$/,
    reason: "CloudNativePG (production's PostgreSQL): postgres_exporter's pg_up stands for it here",
  },
  {
    pattern: /^traces_service_graph_/,
    reason:
      'servicegraph connector: its module is not served by the Go module proxy here (tools/otelcol); the edges are checked in Jaeger instead',
  },
  {
    pattern: /^rabbitmq_/,
    reason: "rabbitmq_prometheus: not enabled on the machine's shared broker, which tests do not reconfigure",
  },
];

export interface Result {
  expr: string;
  /** Where the query comes from (dashboard/panel, rule file/record). */
  source: string;
  /** For a recording rule: the metric it records and its static labels. */
  records?: string;
  labels?: Record<string, string>;
  /** The service a dashboard's $app was bound to. */
  app?: string;
  error?: string;
  samples: number;
  /** The reason it may be empty, when it is and may. */
  allowed?: string;
  /** For an empty result: its selectors that select nothing (the evidence in a failure). */
  emptySelectors?: string[];
}

export async function instant(
  prometheus: string,
  expr: string,
): Promise<{ error?: string; samples: number }> {
  const res = await fetch(`${prometheus}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query: expr }),
    signal: AbortSignal.timeout(15_000),
  });
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { resultType: string; result: unknown };
  };
  if (body.status !== 'success') return { error: body.error ?? `HTTP ${res.status}`, samples: 0 };
  const r = body.data?.result;
  return { samples: Array.isArray(r) ? r.length : r === undefined ? 0 : 1 };
}

/** The vector selectors of an expression: metric name and its label matchers (text inside {}). */
export function selectors(expr: string): { name: string; matchers: string }[] {
  const names = new Set(metricNames(expr));
  const out: { name: string; matchers: string }[] = [];
  const stripped = expr.replace(/"(?:[^"\\]|\\.)*"/g, (m) => '\u0000'.repeat(m.length));
  const re = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?(\s*\()?/g;
  for (const m of stripped.matchAll(re)) {
    const [whole, name, braces, call] = m;
    if (!name || call || !names.has(name)) continue;
    const at = m.index ?? 0;
    const original = expr.slice(at, at + whole.length);
    out.push({ name, matchers: braces ? (/\{[\s\S]*\}/.exec(original)?.[0] ?? '') : '' });
  }
  return out;
}

/** `k="v"` matchers (and `k=~"v"` without regex characters) of a selector. */
const equalities = (matchers: string): [string, string][] =>
  [...matchers.matchAll(/(\w+)\s*(=~|=)\s*"((?:[^"\\]|\\.)*)"/g)]
    .filter((m) => m[2] === '=' || !/[.*+?()|[\]\\^$]/.test(m[3] as string))
    .map((m) => [m[1] as string, m[3] as string]);

/** A service's part in the messaging (from the contract): who may have no such series at all. */
export interface Role {
  metric: RegExp;
  apps: Set<string>;
  reason: string;
}

/**
 * Marks each empty result that may be empty: a dashboard query bound to a service that has no
 * part in what it shows (`roles`), or one whose empty selectors are all explained: a metric of
 * CANNOT_EXIST_HERE, or a series recorded by a rule that was itself allowed to be empty (same
 * name, its labels agreeing with the selector's). Returns the counts by reason.
 */
export async function judgeEmpty(
  prometheus: string,
  results: Result[],
  roles: Role[],
): Promise<Map<string, number>> {
  const emptyCache = new Map<string, boolean>();
  const isEmpty = async (sel: { name: string; matchers: string }) => {
    const q = `${sel.name}${sel.matchers}`;
    if (!emptyCache.has(q)) emptyCache.set(q, (await instant(prometheus, `count(${q})`)).samples === 0);
    return emptyCache.get(q) as boolean;
  };
  const explain = (sel: { name: string; matchers: string }): string | undefined => {
    const listed = CANNOT_EXIST_HERE.find((c) => c.pattern.test(sel.name));
    if (listed) return listed.reason;
    const eq = equalities(sel.matchers);
    const rule = results.find(
      (r) =>
        r.allowed &&
        r.records === sel.name &&
        eq.every(([k, v]) => r.labels?.[k] === undefined || r.labels[k] === v) &&
        (eq.length === 0 || eq.some(([k]) => r.labels?.[k] !== undefined)),
    );
    return rule?.allowed;
  };
  for (const r of results) {
    if (r.error || r.samples > 0 || !r.app) continue;
    const role = roles.find((x) => x.metric.test(r.expr) && !x.apps.has(r.app as string));
    if (role) r.allowed = `${r.app}: ${role.reason}`;
  }
  let changed = true;
  while (changed) {
    changed = false;
    for (const r of results) {
      if (r.error || r.samples > 0 || r.allowed) continue;
      const empty = [];
      for (const sel of selectors(r.expr)) if (await isEmpty(sel)) empty.push(sel);
      r.emptySelectors = empty.map((e) => `${e.name}${e.matchers}`);
      const reasons = empty.map(explain);
      if (empty.length && reasons.every(Boolean)) {
        r.allowed = reasons[0] as string;
        changed = true;
      }
    }
  }
  const counts = new Map<string, number>();
  for (const r of results) {
    if (!r.allowed) continue;
    const reason = r.allowed.replace(/^[\w-]+: (publishes|consumes|has)/, '<service>: $1');
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  return counts;
}
