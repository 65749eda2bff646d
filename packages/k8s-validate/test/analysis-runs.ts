/**
 * The analyses of deployment-strategies/analysis judged by the real engines: a real Prometheus
 * (Debian's) scrapes a small metrics endpoint that plays pods of several versions (by
 * rollouts_pod_template_hash), and the real Argo Rollouts controller runs AnalysisRuns made of
 * the rendered templates' metrics (queries and conditions unchanged; one measurement each, no
 * initial delay, failureLimit 0, so that the run's phase is the measurement's verdict).
 * Used by server.test.ts, which has the cluster and the controller.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Kubectl } from '@mdp/cluster/cluster';
import { type Managed, startProcess } from '@mdp/cluster/processes';
import { systemTool } from '@mdp/cluster/tools';
import { stringify } from 'yaml';
import type { Resource } from '../src/resources.js';

export const ANALYSIS_NAMESPACE = 'mdp-analysis';
const APP = 'order-service';

/**
 * The versions the endpoint plays, per scrape: requests (non-5xx, 5xx), latency bucket, messages.
 *  stable  100/s, all fast           good     100/s, all fast        bad   90/s ok + 10/s 5xx
 *  slow    100/s, all between 0.5 and 1 s     idle  series exist, never move
 *  low     20 requests once, then nothing     (missing: no series at all)
 */
interface Version {
  ok: number;
  err: number;
  slow: boolean;
  /** Added only once, at the second scrape. */
  once?: boolean;
  ack: number;
  retry: number;
}
const VERSIONS: Record<string, Version> = {
  stable: { ok: 100, err: 0, slow: false, ack: 50, retry: 0 },
  good: { ok: 100, err: 0, slow: false, ack: 50, retry: 0 },
  bad: { ok: 90, err: 10, slow: false, ack: 40, retry: 10 },
  slow: { ok: 100, err: 0, slow: true, ack: 50, retry: 0 },
  idle: { ok: 0, err: 0, slow: false, ack: 0, retry: 0 },
  low: { ok: 20, err: 0, slow: false, once: true, ack: 5, retry: 0 },
};
const BUCKETS = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '+Inf'];

function metricsServer(): Server {
  const totals = new Map<string, { ok: number; err: number; ack: number; retry: number }>();
  let scrapes = 0;
  return createServer((_req, res) => {
    scrapes++;
    const lines: string[] = [];
    for (const [hash, v] of Object.entries(VERSIONS)) {
      const t = totals.get(hash) ?? { ok: 0, err: 0, ack: 0, retry: 0 };
      if (!v.once || scrapes === 2) {
        t.ok += v.ok;
        t.err += v.err;
        t.ack += v.ack;
        t.retry += v.retry;
      }
      totals.set(hash, t);
      const l = `app="${APP}",namespace="${ANALYSIS_NAMESPACE}",rollouts_pod_template_hash="${hash}"`;
      const r = `${l},method="GET",route="/api/orders/:id"`;
      lines.push(`http_requests_total{${r},status_code="200"} ${t.ok}`);
      lines.push(`http_requests_total{${r},status_code="500"} ${t.err}`);
      // The probes, which the analyses leave out: plenty, always 200.
      lines.push(
        `http_requests_total{${l},method="GET",route="/readyz",status_code="200"} ${scrapes * 1000}`,
      );
      for (const le of BUCKETS) {
        const fast = Number(le) >= 0.1 || le === '+Inf';
        const inBucket = v.slow ? Number(le) >= 1 || le === '+Inf' : fast;
        lines.push(
          `http_request_duration_seconds_bucket{${r},status_code="200",le="${le}"} ${inBucket ? t.ok + t.err : 0}`,
        );
      }
      const q = `${l},queue="notification-service.events"`;
      lines.push(`messages_consumed_total{${q},outcome="ack"} ${t.ack}`);
      lines.push(`messages_consumed_total{${q},outcome="retry"} ${t.retry}`);
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(`${lines.join('\n')}\n`);
  });
}

export interface AnalysisBench {
  prometheusUrl: string;
  stop(): Promise<void>;
}

/** Starts the metrics endpoint and a real Prometheus scraping it every second; resolves once
 *  Prometheus holds three samples of it (enough for rate() and increase()). */
export async function startAnalysisBench(): Promise<AnalysisBench> {
  const dir = mkdtempSync(path.join(tmpdir(), 'analysis-bench-'));
  const server = metricsServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const port = await new Promise<number>((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const p = (probe.address() as AddressInfo).port;
      probe.close(() => resolve(p));
    });
  });
  writeFileSync(
    path.join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      scrape_configs: [{ job_name: 'pods', honor_labels: true, static_configs: [{ targets: [target] }] }],
    }),
  );
  let prom: Managed | undefined;
  const stop = async () => {
    await prom?.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    prom = startProcess(
      'prometheus',
      systemTool('prometheus'),
      [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { logFile: path.join(tmpdir(), `analysis-bench-prometheus-${port}.log`) },
    );
    const url = `http://127.0.0.1:${port}`;
    const query = encodeURIComponent(
      `count_over_time(http_requests_total{rollouts_pod_template_hash="good",status_code="200"}[1m])`,
    );
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const res = await fetch(`${url}/api/v1/query?query=${query}`);
        const body = (await res.json()) as { data?: { result?: { value: [number, string] }[] } };
        if (Number(body.data?.result?.[0]?.value[1] ?? 0) >= 3) break;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error(`prometheus: no 3 samples within 60 s:\n${prom.tail()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    return { prometheusUrl: url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** An AnalysisRun of `template`'s metrics (one measurement each, failureLimit 0) with `args`. */
export function analysisRun(name: string, template: Resource, args: Record<string, string>): Resource {
  const metrics = (template.spec.metrics as Record<string, unknown>[]).map((m) => {
    const { initialDelay: _d, interval: _i, count: _c, ...rest } = m;
    return { ...rest, failureLimit: 0, inconclusiveLimit: 0 };
  });
  const declared = (template.spec.args as { name: string; value?: string }[]).map((a) => ({
    name: a.name,
    value: args[a.name] ?? a.value,
  }));
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisRun',
    metadata: { name, namespace: ANALYSIS_NAMESPACE, labels: { 'app.kubernetes.io/part-of': 'mdp' } },
    spec: { args: declared, metrics },
  };
}

export interface RunVerdict {
  phase: string;
  metrics: Record<string, { phase: string; value?: string; message?: string }>;
}

/** Creates the runs and waits until each has finished (a terminal phase). */
export async function judge(
  kubectl: Kubectl,
  runs: Resource[],
  timeoutMs = 120_000,
): Promise<Record<string, RunVerdict>> {
  const input = runs.map((r) => stringify(r)).join('---\n');
  const created = await kubectl(['apply', '-f', '-'], { input });
  if (created.code !== 0) throw new Error(`AnalysisRuns refused: ${created.stderr}`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await kubectl(['get', 'analysisruns.argoproj.io', '-n', ANALYSIS_NAMESPACE, '-o', 'json']);
    const items = (JSON.parse(got.stdout || '{"items":[]}') as { items: Resource[] }).items;
    const out: Record<string, RunVerdict> = {};
    for (const r of items) {
      const phase = String(r.status?.phase ?? '');
      if (!['Successful', 'Failed', 'Error', 'Inconclusive'].includes(phase)) continue;
      out[r.metadata.name] = {
        phase,
        metrics: Object.fromEntries(
          ((r.status?.metricResults ?? []) as Record<string, unknown>[]).map((m) => {
            const last = (
              m.measurements as { phase: string; value?: string; message?: string }[] | undefined
            )?.at(-1);
            return [String(m.name), { phase: String(m.phase), value: last?.value, message: last?.message }];
          }),
        ),
      };
    }
    if (runs.every((r) => out[r.metadata.name])) return out;
    if (Date.now() > deadline) {
      const missing = runs.filter((r) => !out[r.metadata.name]).map((r) => r.metadata.name);
      throw new Error(`AnalysisRuns not finished within ${timeoutMs / 1000} s: ${missing.join(', ')}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
