/**
 * A real Prometheus (Debian's) scraping the service processes. The targets come from a file
 * (file_sd) that the glue rewrites as the controller creates and scales ReplicaSets: each process
 * is given the labels its pods would have (`__meta_kubernetes_namespace`,
 * `__meta_kubernetes_pod_label_<label>`), and the PodMonitor's own relabelings of the production
 * render (translated to a scrape config), plus the operator's namespace/pod labels, turn them
 * into `app`, `version`, `rollouts_pod_template_hash` exactly as in the cluster.
 */
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Managed, startProcess } from '@mdp/cluster/processes';
import { systemTool } from '@mdp/cluster/tools';
import { stringify } from 'yaml';
import type { KubeObject } from './kube.js';

export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

export interface Prometheus {
  url: string;
  /** Replaces the targets of `job` (the PodMonitor's service). */
  setTargets(job: string, groups: TargetGroup[]): void;
  /** One instant query; the result vector. */
  query(q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  stop(): Promise<void>;
}

/** Kubernetes service discovery's meta label for a pod label (non-alphanumerics → _). */
export const podLabelMeta = (label: string) =>
  `__meta_kubernetes_pod_label_${label.replace(/[^a-zA-Z0-9_]/g, '_')}`;

type Relabel = Record<string, unknown>;

/** A PodMonitor's podMetricsEndpoints[0].relabelings as Prometheus relabel_configs. */
export function relabelConfigs(podMonitor: KubeObject): Relabel[] {
  const endpoint = podMonitor.spec.podMetricsEndpoints?.[0] ?? {};
  const own = ((endpoint.relabelings ?? []) as Record<string, unknown>[]).map((r) => {
    const out: Relabel = {};
    for (const [k, v] of Object.entries(r)) {
      const key =
        k === 'sourceLabels'
          ? 'source_labels'
          : k === 'targetLabel'
            ? 'target_label'
            : k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      out[key] = v;
    }
    return out;
  });
  // What prometheus-operator adds to every PodMonitor target before its own relabelings.
  return [
    { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
    { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
    ...own,
  ];
}

export async function startPrometheus(
  dir: string,
  port: number,
  jobs: { name: string; podMonitor: KubeObject; scrapeSeconds: number }[],
): Promise<Prometheus> {
  const file = (job: string) => path.join(dir, `targets-${job}.json`);
  const setTargets = (job: string, groups: TargetGroup[]) => {
    const tmp = `${file(job)}.tmp`;
    writeFileSync(tmp, JSON.stringify(groups));
    renameSync(tmp, file(job));
  };
  for (const j of jobs) setTargets(j.name, []);
  const scrape = (s: number) => `${Math.round(s * 1000)}ms`;
  writeFileSync(
    path.join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: scrape(Math.min(...jobs.map((j) => j.scrapeSeconds))) },
      scrape_configs: jobs.map((j) => ({
        job_name: `podMonitor/${j.name}`,
        scrape_interval: scrape(j.scrapeSeconds),
        scrape_timeout: scrape(Math.min(j.scrapeSeconds, 5)),
        metrics_path: j.podMonitor.spec.podMetricsEndpoints?.[0]?.path ?? '/metrics',
        file_sd_configs: [{ files: [file(j.name)], refresh_interval: '1s' }],
        relabel_configs: relabelConfigs(j.podMonitor),
      })),
    }),
  );
  const proc: Managed = startProcess(
    'prometheus',
    systemTool('prometheus'),
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'prometheus-data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { logFile: path.join(dir, 'prometheus.log') },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`prometheus did not become ready:\n${proc.tail()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    setTargets,
    async query(q) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(q)}`, {
        signal: AbortSignal.timeout(5000),
      });
      const body = (await res.json()) as { data?: { result?: [] } };
      return body.data?.result ?? [];
    },
    stop: () => proc.stop(),
  };
}
