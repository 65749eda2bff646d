/**
 * What the rehearsal applies: the production overlay's own objects for the service under test
 * (its Rollout, Deployment, Services, ServiceAccount and the AnalysisTemplates the Rollout
 * names), moved to the rehearsal's namespace, with a rehearsal-only patch that scales every
 * duration down. The patch is a list of JSON-patch operations, printed with every run, so what
 * differs from production is stated, never implied.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from './kube.js';

const run = promisify(execFile);

export const PRODUCTION = 'deploy/overlays/production';
/** The label of the smoke Job's pods (analysis/smoke.yaml): the rehearsal plays their kubelet. */
export const SMOKE_POD_LABEL = { key: 'app.kubernetes.io/instance', value: 'release-smoke' } as const;

export async function renderProduction(root: string): Promise<KubeObject[]> {
  const { stdout } = await run('kubectl', ['kustomize', path.join(root, PRODUCTION)], {
    maxBuffer: 64 * 1024 * 1024,
    timeout: 120_000,
  });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => Boolean(o));
}

const named = (objs: KubeObject[], kind: string, name: string) =>
  objs.find((o) => o.kind === kind && o.metadata.name === name);

/** The Rollout's analyses: background (canary), pre- and post-promotion (blue-green). */
export function analysisTemplateNames(rollout: KubeObject): string[] {
  const s = rollout.spec.strategy;
  const refs = [
    ...(s.canary?.analysis?.templates ?? []),
    ...(s.blueGreen?.prePromotionAnalysis?.templates ?? []),
    ...(s.blueGreen?.postPromotionAnalysis?.templates ?? []),
  ] as { templateName: string }[];
  return [...new Set(refs.map((r) => r.templateName))];
}

export interface ServiceObjects {
  namespace: KubeObject;
  rollout: KubeObject;
  deployment: KubeObject;
  services: KubeObject[];
  serviceAccounts: KubeObject[];
  templates: KubeObject[];
  podMonitor: KubeObject | undefined;
  /** The Istio VirtualServices the canary's traffic router writes its weights to (east-west). */
  virtualServices: KubeObject[];
}

/** The VirtualServices a Rollout's Istio traffic router names. */
export function virtualServiceNames(rollout: KubeObject): string[] {
  const istio = rollout.spec?.strategy?.canary?.trafficRouting?.istio;
  if (!istio) return [];
  return [
    ...(istio.virtualService ? [istio.virtualService] : []),
    ...((istio.virtualServices ?? []) as { name: string }[]),
  ].map((v: { name: string }) => v.name);
}

/** The objects of `service` in the production render, as the rehearsal applies them. */
export function serviceObjects(render: KubeObject[], service: string): ServiceObjects {
  const must = (kind: string, name: string) => {
    const o = named(render, kind, name);
    if (!o) throw new Error(`${PRODUCTION} has no ${kind}/${name}`);
    return structuredClone(o);
  };
  const namespace = render.find((o) => o.kind === 'Namespace');
  if (!namespace) throw new Error(`${PRODUCTION} renders no Namespace`);
  const rollout = must('Rollout', service);
  const templates = analysisTemplateNames(rollout).map((n) => must('AnalysisTemplate', n));
  // A Job metric's pod runs under its own ServiceAccount (the smoke Job: api-gateway's).
  const accounts = new Set([service]);
  for (const t of templates)
    for (const m of t.spec.metrics as {
      provider: { job?: { spec: { template: { spec: KubeObject['spec'] } } } };
    }[]) {
      const sa = m.provider.job?.spec.template.spec.serviceAccountName;
      if (sa) accounts.add(sa);
    }
  return {
    namespace: structuredClone(namespace),
    rollout,
    deployment: must('Deployment', service),
    services: render
      .filter((o) => o.kind === 'Service' && o.metadata.labels?.['app.kubernetes.io/name'] === service)
      .map((o) => structuredClone(o)),
    serviceAccounts: [...accounts].map((n) => must('ServiceAccount', n)),
    templates,
    podMonitor: named(render, 'PodMonitor', service),
    virtualServices: virtualServiceNames(rollout).map((n) => must('VirtualService', n)),
  };
}

/** One operation of the rehearsal-only patch (RFC 6902 `replace`/`add`, on one object). */
export interface PatchOp {
  target: string;
  op: 'replace' | 'add';
  path: string;
  value: unknown;
  was?: unknown;
}

/** "30s", "1m", "500ms" → seconds. */
export function seconds(d: string | number): number {
  if (typeof d === 'number') return d;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(d);
  if (!m) throw new Error(`not a duration: ${d}`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 's' ? n : m[2] === 'm' ? n * 60 : n * 3600;
}

export interface Timing {
  /** Every duration is multiplied by this (0.1: production's 30 s pause lasts 3 s). */
  scale: number;
  /** Prometheus' scrape interval in the rehearsal, seconds (production: the PodMonitor's). */
  scrapeSeconds: number;
  /** The analyses' rate()/increase() window, seconds (production: 1m). */
  windowSeconds: number;
}

/** The rehearsal's timing; `scrapeSeconds` overrides the PodMonitor's interval × scale. */
export function timing(scale: number, podMonitor?: KubeObject, scrape?: number): Timing {
  const productionScrape = seconds(podMonitor?.spec?.podMetricsEndpoints?.[0]?.interval ?? '15s');
  const scrapeSeconds = scrape ?? Math.max(1, Math.round(productionScrape * scale * 10) / 10);
  return {
    scale,
    scrapeSeconds,
    // At least three scrapes, so that rate() always has two samples in the window.
    windowSeconds: Math.max(Math.round(60 * scale), Math.ceil(3 * scrapeSeconds)),
  };
}

const id = (o: KubeObject) => `${o.kind}/${o.metadata.name}`;
const scaled = (d: string | number, scale: number, floor = 1) =>
  `${Math.max(floor, Math.round(seconds(d) * scale))}s`;
const scaledInt = (n: number, scale: number, floor = 1) => Math.max(floor, Math.round(n * scale));

/**
 * The rehearsal-only patch: durations × scale (pauses, initial delays, intervals, the queries'
 * windows, progress deadline, scale-down delays), the analyses' minimum request count (× scale,
 * it is a count per window, or the rehearsal's own), the Prometheus address, and `replicas` (the HPA is not applied:
 * without a metrics server it decides nothing; 10 replicas let the replica-weighted split
 * express 10 %).
 */
export function rehearsalPatch(
  objs: ServiceObjects,
  opts: {
    timing: Timing;
    prometheusUrl: string;
    replicas: number;
    /** The analyses' minimum count per window (default: production's x scale). */
    minRequests?: number;
  },
): PatchOp[] {
  const ops: PatchOp[] = [];
  const { scale, windowSeconds } = opts.timing;
  const r = objs.rollout;
  const rid = id(r);
  ops.push({ target: rid, op: 'add', path: '/spec/replicas', value: opts.replicas, was: r.spec.replicas });
  if (r.spec.progressDeadlineSeconds !== undefined)
    ops.push({
      target: rid,
      op: 'replace',
      path: '/spec/progressDeadlineSeconds',
      // Floor 30 s: the control plane shares two cores with everything else here.
      value: scaledInt(r.spec.progressDeadlineSeconds, scale, 30),
      was: r.spec.progressDeadlineSeconds,
    });
  const canary = r.spec.strategy.canary;
  if (canary) {
    (canary.steps as { pause?: { duration?: string | number } }[]).forEach((step, i) => {
      if (step.pause?.duration !== undefined)
        ops.push({
          target: rid,
          op: 'replace',
          path: `/spec/strategy/canary/steps/${i}/pause/duration`,
          value: scaled(step.pause.duration, scale),
          was: step.pause.duration,
        });
    });
    for (const k of ['scaleDownDelaySeconds', 'abortScaleDownDelaySeconds'] as const)
      if (canary[k] !== undefined)
        ops.push({
          target: rid,
          op: 'replace',
          path: `/spec/strategy/canary/${k}`,
          value: scaledInt(canary[k], scale),
          was: canary[k],
        });
  }
  const bg = r.spec.strategy.blueGreen;
  if (bg)
    for (const k of ['scaleDownDelaySeconds', 'abortScaleDownDelaySeconds', 'autoPromotionSeconds'] as const)
      if (bg[k] !== undefined)
        ops.push({
          target: rid,
          op: 'replace',
          path: `/spec/strategy/blueGreen/${k}`,
          value: scaledInt(bg[k], scale),
          was: bg[k],
        });
  for (const t of objs.templates) {
    const tid = id(t);
    (t.spec.args as { name: string; value?: string }[]).forEach((a, i) => {
      if (a.name === 'prometheus-address')
        ops.push({
          target: tid,
          op: 'replace',
          path: `/spec/args/${i}/value`,
          value: opts.prometheusUrl,
          was: a.value,
        });
      if (/^min-(requests|messages)$/.test(a.name) && a.value !== undefined)
        ops.push({
          target: tid,
          op: 'replace',
          path: `/spec/args/${i}/value`,
          value: String(opts.minRequests ?? scaledInt(Number(a.value), scale)),
          was: a.value,
        });
    });
    (t.spec.metrics as Record<string, unknown>[]).forEach((m, i) => {
      for (const k of ['initialDelay', 'interval'] as const)
        if (m[k] !== undefined)
          ops.push({
            target: tid,
            op: 'replace',
            path: `/spec/metrics/${i}/${k}`,
            value: scaled(m[k] as string, scale),
            was: m[k],
          });
      const prom = (m.provider as { prometheus?: { query: string } }).prometheus;
      if (prom && /\[1m\]/.test(prom.query))
        ops.push({
          target: tid,
          op: 'replace',
          path: `/spec/metrics/${i}/provider/prometheus/query`,
          value: prom.query.replaceAll('[1m]', `[${windowSeconds}s]`),
          was: '[1m] windows',
        });
    });
  }
  return ops;
}

function setPointer(obj: unknown, pointer: string, value: unknown): void {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
  const last = parts.pop();
  if (last === undefined) throw new Error(`bad pointer ${pointer}`);
  let at = obj as Record<string, unknown>;
  for (const p of parts) {
    const next = at[p];
    if (next === undefined || next === null || typeof next !== 'object') throw new Error(`no ${pointer}`);
    at = next as Record<string, unknown>;
  }
  at[last] = value;
}

/** Applies `ops` to the objects (in place). */
export function applyPatch(all: KubeObject[], ops: PatchOp[]): void {
  for (const op of ops) {
    const o = all.find((x) => id(x) === op.target);
    if (!o) throw new Error(`patch target ${op.target} missing`);
    setPointer(o, op.path, op.value);
  }
}

/** One line per operation, for the run's output. */
export function describePatch(ops: PatchOp[]): string[] {
  return ops.map((op) => {
    const value =
      typeof op.value === 'string' && op.value.length > 40 ? '(same query, windows scaled)' : op.value;
    return `${op.target} ${op.path}: ${JSON.stringify(op.was ?? null)} -> ${JSON.stringify(value)}`;
  });
}

/** Everything to apply for one rehearsal, in `namespace`, with the stable build's image. */
export function rehearsalObjects(
  objs: ServiceObjects,
  opts: { namespace: string; image: string; container: string },
): KubeObject[] {
  const ns = structuredClone(objs.namespace);
  ns.metadata.name = opts.namespace;
  const items = [
    ...objs.serviceAccounts,
    ...objs.services,
    ...objs.virtualServices,
    ...objs.templates,
    objs.deployment,
    objs.rollout,
  ];
  for (const o of items) o.metadata.namespace = opts.namespace;
  const c = (objs.deployment.spec.template.spec.containers as { name: string; image: string }[]).find(
    (x) => x.name === opts.container,
  );
  if (!c) throw new Error(`Deployment/${objs.deployment.metadata.name} has no container ${opts.container}`);
  c.image = opts.image;
  return [ns, ...items];
}
