/**
 * One rehearsal: the production overlay's objects of the service under test, patched by the
 * rehearsal-only patch, applied in a namespace of their own; the stable build serving under load;
 * the release made by the project's own script (scripts/deploy-canary.sh, or
 * scripts/deploy-blue-green.sh and its --promote-only step, where a person promotes in
 * production: the rehearsal plays that person as soon as the preview passed its analysis); the
 * real controller deciding; then the figures, from HAProxy's log of every request, the
 * controller's Rollout status (as watched) and its AnalysisRuns.
 */

import { spawn } from 'node:child_process';
import path from 'node:path';
import { smoke } from '@mdp/api-client/smoke';
import { ROOT } from '@mdp/stack/services';
import { stringify } from 'yaml';
import { type Environment, imageOf, RELEASED } from './environment.js';
import { type Glue, startGlue, type WeightChange } from './glue.js';
import type { LoggedRequest } from './haproxy.js';
import type { KubeObject } from './kube.js';
import { type LoadFigures, startLoad } from './load.js';
import {
  applyPatch,
  describePatch,
  type PatchOp,
  rehearsalObjects,
  rehearsalPatch,
  serviceObjects,
} from './manifests.js';
import type { Outcome, Scenario } from './scenarios.js';
import type { Frontend } from './weights.js';

export interface StepFigure {
  setWeight: number;
  /** Percent of the production frontend's requests the new version served in the step; null if not reached. */
  observedShare: number | null;
}

/** The `--json` line: exactly the issue's keys. */
export interface ResultLine {
  scenario: string;
  engine: 'argo-rollouts';
  outcome: Outcome;
  failedRequests: number;
  detectSeconds: number | null;
  rollbackSeconds: number | null;
  steps: StepFigure[];
}

export interface Measurement {
  run: string;
  metric: string;
  phase: string;
  value: string;
  /** Seconds since the release started. */
  at: number;
}

export interface Rehearsal {
  line: ResultLine;
  service: string;
  strategy: string;
  namespace: string;
  patch: string[];
  timeline: { at: number; what: string }[];
  steps: (StepFigure & {
    label: string;
    from: number | null;
    to: number | null;
    requests: number;
    toNew: number;
  })[];
  measurements: Measurement[];
  finalPhase: string;
  finalMessage: string;
  scripts: { command: string; exit: number | null }[];
  load: LoadFigures;
  /** Seconds: the release (script start) to its end (Healthy or the bad version without traffic). */
  releaseSeconds: number;
  /** Seconds: the whole rehearsal, set-up of the namespace to clean-up. */
  wholeSeconds: number;
  /** Requests the new version received on the production frontend, and after the abort (any frontend). */
  newVersionRequests: number;
  requestsAfterNoTraffic: number;
}

/**
 * Requests per second of the load, and the analyses' minimum count per window in the rehearsal.
 * Production's `min-requests` is 50 per minute: at a 10 % step the canary must collect them
 * within initialDelay + interval (40 s), i.e. at least 12.5 requests/s to the service. This
 * two-core machine, shared with the control plane and everything else, serves the order path
 * through the gateway with a p99 near production's 0.5 s limit already at 25 requests/s, so the
 * rehearsal drives 12 requests/s and its patch sets min-requests to 3: still no pass without data
 * (the low-traffic case of production's 50 is the server test's, packages/k8s-validate sr-low).
 */
export const MIN_REQUESTS = 3;
export const DEFAULT_RATE = 12;

export interface RehearseOptions {
  /** Requests per second of the load (default DEFAULT_RATE). */
  rate?: number;
  /** The load's bound (default: enough for ten minutes). */
  maxRequests?: number;
  log?: (line: string) => void;
}

let serial = 0;

function runScript(
  env: Environment,
  script: string,
  args: string[],
  log: (l: string) => void,
): Promise<{ command: string; exit: number | null; out: string }> {
  const command = `scripts/${script} ${args.join(' ')}`;
  return new Promise((resolve) => {
    const child = spawn('bash', [path.join(ROOT, 'scripts', script), ...args], {
      env: {
        ...process.env,
        PATH: `${path.join(ROOT, '.tools/bin')}:${process.env.PATH}`,
        KUBECONFIG: env.cluster.kubeconfig,
        ROLLOUT_POLL_SECONDS: '1',
      },
    });
    let out = '';
    const keep = (d: Buffer) => {
      out += d;
      for (const l of String(d).split('\n').filter(Boolean)) log(`  ${script}: ${l}`);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('close', (exit) => resolve({ command, exit, out }));
  });
}

/** The first weight change after `from` from which no frontend had weight on v2 (by HAProxy's weights). */
function noTrafficSince(changes: WeightChange[], from: number, only?: string): number | undefined {
  const current = new Map<string, number>();
  for (const c of changes) {
    if (only && c.frontend !== only) continue;
    current.set(c.frontend, c.weights.v2 ?? 0);
    if (c.at >= from && [...current.values()].every((w) => w === 0)) return c.at;
  }
  return undefined;
}

const share = (reqs: LoggedRequest[], server: string) =>
  reqs.length ? Math.round((1000 * reqs.filter((r) => r.server === server).length) / reqs.length) / 10 : null;

export async function rehearse(
  env: Environment,
  scenario: Scenario,
  opts: RehearseOptions = {},
): Promise<Rehearsal> {
  const log = opts.log ?? (() => {});
  const rate = opts.rate ?? DEFAULT_RATE;
  const begun = Date.now();
  const svc = scenario.service;
  const namespace = `rehearsal-${scenario.name}-${++serial}`;
  const timeline: { at: number; what: string }[] = [];
  let t0 = 0;
  const mark = (what: string, at = Date.now()) => {
    timeline.push({ at, what });
    log(`[${t0 ? ((at - t0) / 1000).toFixed(1).padStart(6) : '   pre'} s] ${what}`);
  };

  // The objects and the rehearsal-only patch.
  const objs = serviceObjects(env.render, svc);
  const ops: PatchOp[] = rehearsalPatch(objs, {
    timing: env.timing,
    prometheusUrl: env.prometheus.url,
    replicas: 10,
    minRequests: MIN_REQUESTS,
  });
  const items = rehearsalObjects(objs, { namespace, image: imageOf(svc, 'v1'), container: svc });
  applyPatch(items, ops);
  const patch = [
    `namespace ${namespace}; image ${imageOf(svc, 'v1')} (stable) -> ${imageOf(svc, 'v2')} (new)`,
    `Prometheus scrape interval ${env.timing.scrapeSeconds}s (PodMonitor: ${objs.podMonitor?.spec?.podMetricsEndpoints?.[0]?.interval}), query windows ${env.timing.windowSeconds}s (1m), durations x${env.timing.scale}`,
    ...describePatch(ops),
  ];

  // What the controller writes, as it writes it.
  const rollouts: { at: number; ro: KubeObject }[] = [];
  let stableHash = '';
  let newHash = '';
  const stepAt: Record<number, number> = {};
  let abortAt: number | undefined;
  let completeAt: number | undefined;
  let switchAt: number | undefined;
  let switchBackAt: number | undefined;
  let lastPhase = '';
  const onRollout = (ro: KubeObject, at: number) => {
    rollouts.push({ at, ro });
    const st = ro.status ?? {};
    if (!t0) return;
    const hash = st.currentPodHash as string | undefined;
    if (hash && hash !== stableHash && !newHash) {
      newHash = hash;
      mark(`the controller created ReplicaSet ${svc}-${hash} (new)`, at);
    }
    if (!newHash) return;
    const idx = st.currentStepIndex as number | undefined;
    if (idx !== undefined && stepAt[idx] === undefined && !abortAt && st.currentPodHash === newHash) {
      stepAt[idx] = at;
      const step = ro.spec.strategy.canary?.steps?.[idx];
      if (step) mark(`step ${idx}: ${JSON.stringify(step)}`, at);
    }
    const active = st.blueGreen?.activeSelector as string | undefined;
    if (scenario.strategy === 'blueGreen') {
      if (active === newHash && !switchAt) {
        switchAt = at;
        mark(`the controller switched the active Service to ${newHash}`, at);
      } else if (switchAt && !switchBackAt && active && active !== newHash) {
        switchBackAt = at;
        mark(`the controller switched the active Service back to ${active}`, at);
      }
    }
    if ((st.abort || st.phase === 'Degraded') && !abortAt) {
      abortAt = at;
      mark(`ABORTED by the controller: ${st.message ?? ''}`, at);
    }
    if (st.phase === 'Healthy' && st.stableRS === newHash && !completeAt) {
      completeAt = at;
      mark(`Healthy: ${newHash} is stable (fully promoted)`, at);
    }
    const phase = `${st.phase ?? ''}${st.message ? ` (${st.message})` : ''}`;
    if (phase !== lastPhase) {
      lastPhase = phase;
      log(`         rollout: ${phase}`);
    }
  };

  // The production frontend follows the Rollout's traffic router when it has one (order-service:
  // the Istio VirtualService the controller writes its weights to), else the Service's endpoints.
  const istio = objs.rollout.spec?.strategy?.canary?.trafficRouting?.istio?.virtualService as
    | { name: string; routes?: string[] }
    | undefined;
  const frontends: Frontend[] = RELEASED[svc].frontends.map((f, i) => ({
    name: f,
    service: f,
    ...(i === 0 && istio ? { virtualService: { name: istio.name, route: istio.routes?.[0] } } : {}),
  }));
  const production = frontends[0]?.name as string;
  await env.cluster.kubectlOk(['apply', '--server-side', '--field-manager=rehearsal', '-f', '-'], {
    input: items.map((i) => stringify(i)).join('---\n'),
  });
  const v2Build = { server: 'v2', port: 9 };
  let glue: Glue | undefined;
  let v2: { stop(): Promise<void> } | undefined;
  let load: Awaited<ReturnType<typeof startLoad>> | undefined;
  const scripts: { command: string; exit: number | null }[] = [];
  try {
    glue = await startGlue({
      kube: env.kube,
      kubectl: env.cluster.kubectl,
      namespace,
      job: svc,
      frontends,
      builds: {
        [imageOf(svc, 'v1')]: { server: 'v1', port: env.ports[svc].v1 },
        // Its port once it runs (below); no target before.
        [imageOf(svc, 'v2')]: v2Build,
      },
      haproxy: env.haproxy,
      prometheus: env.prometheus,
      smoke: async () => {
        const r = await smoke(env.smokeGateway);
        return {
          ok: r.ok,
          summary: r.steps
            .map((s) => `${s.name} ${s.status ?? '-'}${s.ok ? '' : ` FAILED ${s.detail ?? ''}`}`)
            .join(', '),
        };
      },
      onRollout,
      log: (l) => log(`         ${l}`),
    });
    const g = glue;
    mark(`applied ${items.length} objects in ${namespace}`);
    // The stable version: Healthy, serving all production traffic; the new build started.
    const [, started] = await Promise.all([
      g.until(
        () => {
          const ro = rollouts.at(-1)?.ro;
          if (ro?.status?.phase !== 'Healthy' || !ro.status.stableRS) return false;
          stableHash = ro.status.stableRS;
          return frontends.every((f) => g.applied(f.name).v1 === 100);
        },
        120_000,
        `Rollout/${svc} Healthy with all traffic on v1`,
      ),
      env.startV2(svc, scenario.flags),
    ]);
    v2 = started;
    v2Build.port = started.port;
    mark(`Rollout/${svc} Healthy on ${stableHash}, all traffic on v1; v2 started`);
    load = await startLoad({
      gateway: env.gateway,
      kind: scenario.load,
      rate,
      maxRequests: opts.maxRequests ?? rate * 600,
      // One connection per customer; enough of them that the rate is reached with slow answers.
      customers: Math.max(6, Math.ceil(rate / 2)),
    });
    mark(`load running: ${rate} requests/s`);
    // Stable's series in Prometheus before the release: the analyses compare against them.
    const stableSeries = `count_over_time(http_requests_total{namespace="${namespace}",rollouts_pod_template_hash="${stableHash}",route!~"/healthz|/readyz|/metrics"}[${env.timing.windowSeconds}s])`;
    for (const deadline = Date.now() + 60_000; ; ) {
      const r = await env.prometheus.query(stableSeries).catch(() => []);
      if (r.some((x) => Number(x.value[1]) >= 3)) break;
      if (Date.now() > deadline)
        throw new Error(`Prometheus has no series of the stable pods (${stableHash})`);
      await new Promise((res) => setTimeout(res, 250));
    }

    // The release, as the pipeline makes it.
    t0 = Date.now();
    mark(`release: ${svc} -> ${imageOf(svc, 'v2')}`);
    const ns = ['-n', namespace, '--timeout', '300'];
    // What the controller decided, whatever a script concluded (a script's first status read
    // can still be the previous revision's Healthy: see the report).
    const settled = (what: string, pred: () => boolean) => g.until(pred, 300_000, what);
    const latest = () => rollouts.at(-1)?.ro.status ?? {};
    if (scenario.strategy === 'canary') {
      const r = await runScript(env, 'deploy-canary.sh', [...ns, svc, imageOf(svc, 'v2')], log);
      scripts.push(r);
      mark(`deploy-canary.sh exit ${r.exit}`);
      await settled('the canary promoted or aborted', () => Boolean(completeAt || abortAt));
    } else {
      const r = await runScript(env, 'deploy-blue-green.sh', [...ns, svc, imageOf(svc, 'v2')], log);
      scripts.push(r);
      mark(`deploy-blue-green.sh exit ${r.exit}`);
      await settled(
        'the preview validated (paused for promotion) or aborted',
        () =>
          Boolean(abortAt || completeAt) ||
          (Boolean(newHash) &&
            latest().phase === 'Paused' &&
            latest().blueGreen?.prePromotionAnalysisRunStatus?.status === 'Successful'),
      );
      if (!abortAt && !completeAt) {
        // The person's step of production, at once.
        const p = await runScript(env, 'deploy-blue-green.sh', [...ns, '--promote-only', svc], log);
        scripts.push(p);
        mark(`deploy-blue-green.sh --promote-only exit ${p.exit}`);
      }
      await settled('the blue-green promoted or aborted', () => Boolean(completeAt || abortAt));
    }
    // The end of the release: the new version Healthy, or without traffic after the abort.
    let noTrafficAt: number | undefined;
    let everywhereAt: number | undefined;
    if (abortAt) {
      noTrafficAt = await g.until(
        () => frontends.every((f) => (g.applied(f.name).v2 ?? 0) === 0),
        60_000,
        'the new version to have no traffic after the abort',
      );
      everywhereAt = noTrafficSince(g.changes, abortAt) ?? noTrafficAt;
      // Rollback: production traffic off the bad version; a bad preview never had any, so its
      // rollback is the preview's (the only traffic it had).
      const hadProduction =
        (g.changes.filter((c) => c.frontend === production && c.at <= (abortAt as number)).at(-1)?.weights
          .v2 ?? 0) > 0;
      noTrafficAt = hadProduction
        ? (noTrafficSince(g.changes, abortAt, production) ?? everywhereAt)
        : everywhereAt;
      if (hadProduction)
        mark('the new version receives no production traffic (HAProxy weight 0)', noTrafficAt);
      mark('the new version receives no traffic at all (HAProxy weight 0 on every frontend)', everywhereAt);
    }
    const releaseEnd = Date.now();
    // A tail of traffic after the end, so the last state is measured too (requests, not seconds).
    const tail = Math.max(20, Math.round(rate * env.timing.windowSeconds * 0.5));
    for (const deadline = Date.now() + 60_000; ; ) {
      if (env.haproxy.requests(releaseEnd).filter((r) => r.frontend === production).length >= tail) break;
      if (Date.now() > deadline) throw new Error('no traffic after the release');
      await new Promise((res) => setTimeout(res, 100));
    }
    const endAt = Date.now();
    const figures = await load.stop();
    load = undefined;
    mark(`load stopped: ${figures.requests} requests, ${figures.failed} failed`);

    // Figures.
    const all = env.haproxy.requests(t0 - 1000).filter((r) => r.at <= endAt);
    const prod = all.filter((r) => r.frontend === production);
    const within = (from?: number, to?: number) =>
      from === undefined ? [] : prod.filter((r) => r.at >= from && r.at < (to ?? endAt));
    const steps: Rehearsal['steps'] = [];
    if (scenario.strategy === 'canary') {
      const list = objs.rollout.spec.strategy.canary.steps as { setWeight?: number }[];
      const weightIdx = list.flatMap((s, i) => (s.setWeight !== undefined ? [i] : []));
      weightIdx.forEach((i, n) => {
        const last = n === weightIdx.length - 1;
        const from = last ? completeAt : (stepAt[i + 1] ?? undefined);
        const nextIdx = weightIdx[n + 1];
        const candidates = [nextIdx !== undefined ? stepAt[nextIdx] : undefined, abortAt, endAt].filter(
          (x): x is number => x !== undefined && from !== undefined && x > from,
        );
        const to = from === undefined ? undefined : Math.min(...candidates);
        const reqs = within(from, to);
        steps.push({
          label: `step ${i} setWeight ${list[i]?.setWeight}`,
          setWeight: list[i]?.setWeight as number,
          observedShare: from === undefined ? null : share(reqs, 'v2'),
          from: from === undefined ? null : from - t0,
          to: to === undefined ? null : to - t0,
          requests: reqs.length,
          toNew: reqs.filter((r) => r.server === 'v2').length,
        });
      });
    } else {
      const phases: [string, number, number | undefined, number | undefined][] = [
        ['preview (active = stable)', 0, t0, switchAt ?? abortAt ?? endAt],
        ['switched (active = new)', 100, switchAt, switchBackAt ?? endAt],
      ];
      if (switchBackAt) phases.push(['switched back (active = stable)', 0, switchBackAt, endAt]);
      for (const [label, w, from, to] of phases) {
        const reqs = within(from, to);
        steps.push({
          label,
          setWeight: w,
          observedShare: from === undefined ? null : share(reqs, 'v2'),
          from: from === undefined ? null : from - t0,
          to: to === undefined ? null : to - t0,
          requests: reqs.length,
          toNew: reqs.filter((r) => r.server === 'v2').length,
        });
      }
    }
    const toNew = all.filter((r) => r.server === 'v2');
    const firstBad = toNew[0]?.at;
    const bad = scenario.expected !== 'promoted';
    const outcome: Outcome = completeAt && !abortAt ? 'promoted' : switchAt ? 'rolled-back' : 'aborted';

    const runs = (await env.kube.get(`/apis/argoproj.io/v1alpha1/namespaces/${namespace}/analysisruns`)) as {
      items: KubeObject[];
    };
    const measurements: Measurement[] = runs.items.flatMap((run) =>
      (
        (run.status?.metricResults ?? []) as { name: string; measurements?: Record<string, string>[] }[]
      ).flatMap((m) =>
        (m.measurements ?? []).map((x) => ({
          run: run.metadata.name.replace(`${svc}-`, ''),
          metric: m.name,
          phase: x.phase ?? '',
          value: x.value ?? x.message ?? '',
          at: x.finishedAt ? Math.round((Date.parse(x.finishedAt) - t0) / 100) / 10 : Number.NaN,
        })),
      ),
    );
    measurements.sort((a, b) => a.at - b.at);
    const final = rollouts.at(-1)?.ro.status ?? {};
    const line: ResultLine = {
      scenario: scenario.name,
      engine: 'argo-rollouts',
      outcome,
      failedRequests: figures.failed,
      detectSeconds:
        bad && abortAt && firstBad !== undefined ? Math.round((abortAt - firstBad) / 100) / 10 : null,
      rollbackSeconds:
        bad && abortAt && noTrafficAt !== undefined ? Math.round((noTrafficAt - abortAt) / 100) / 10 : null,
      steps: steps.map((s) => ({ setWeight: s.setWeight, observedShare: s.observedShare })),
    };
    return {
      line,
      service: svc,
      strategy: scenario.strategy,
      namespace,
      patch,
      timeline: timeline.map((e) => ({ at: Math.round((e.at - t0) / 100) / 10, what: e.what })),
      steps,
      measurements,
      finalPhase: String(final.phase ?? ''),
      finalMessage: String(final.message ?? ''),
      scripts,
      load: figures,
      releaseSeconds: Math.round(((noTrafficAt ?? completeAt ?? releaseEnd) - t0) / 100) / 10,
      wholeSeconds: Math.round((Date.now() - begun) / 100) / 10,
      newVersionRequests: prod.filter((r) => r.server === 'v2').length,
      requestsAfterNoTraffic:
        noTrafficAt === undefined
          ? 0
          : toNew.filter((r) => r.at > (everywhereAt ?? (noTrafficAt as number))).length,
    };
  } finally {
    await load?.stop().catch(() => {});
    glue?.stop();
    await v2?.stop();
    // Back to the environment's rest state: the stable builds serve, no targets of this namespace.
    for (const f of frontends) {
      await env.haproxy.setWeight(f.name, 'v1', 1);
      await env.haproxy.setWeight(f.name, 'v2', 0);
    }
    env.prometheus.setTargets(svc, []);
    await env.cluster.kubectl(['delete', 'namespace', namespace, '--wait=false']);
  }
}
