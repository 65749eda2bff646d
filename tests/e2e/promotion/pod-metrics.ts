/**
 * What the analyses query, as near to real as this machine allows. kwok plays the kubelets, so
 * the pods of a Rollout run no process and expose no /metrics; the same build runs as processes
 * (packages/stack). A real Prometheus (Debian's) scrapes those processes every second, and a
 * file_sd target list stands in for the PodMonitors' discovery: every ReplicaSet of a Rollout in
 * the watched namespaces whose image is one of the `good` digests gets its service's process as
 * its target, labelled as the contract's scrape labels say (namespace, app,
 * rollouts_pod_template_hash). A ReplicaSet of any other digest gets no target: its pods report
 * nothing, as pods that never start serving would (the analyses' "no data never passes").
 */
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Kubectl } from '@mdp/cluster/cluster';
import { type Managed, startProcess } from '@mdp/cluster/processes';
import { systemTool } from '@mdp/cluster/tools';
import { eventually, freePort } from '@mdp/platform/testing';
import { stringify } from 'yaml';

export interface PodMetrics {
  url: string;
  /** Digests whose ReplicaSets report their service's process metrics. */
  good: Set<string>;
  /** Targets currently listed: "namespace/service/hash". */
  targets(): string[];
  stop(): Promise<void>;
}

interface Rs {
  metadata: { labels?: Record<string, string> };
  spec?: { template?: { spec?: { containers?: { name: string; image: string }[] } } };
}

export async function startPodMetrics(
  work: string,
  kubectl: Kubectl,
  namespaces: string[],
  processes: Record<string, string>,
): Promise<PodMetrics> {
  const port = await freePort();
  const sd = path.join(work, 'pods.json');
  writeFileSync(sd, '[]');
  const config = path.join(work, 'prometheus.yml');
  writeFileSync(
    config,
    stringify({
      global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
      scrape_configs: [{ job_name: 'pods', file_sd_configs: [{ files: [sd], refresh_interval: '1s' }] }],
    }),
  );
  const prom: Managed = startProcess(
    'prometheus',
    systemTool('prometheus'),
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(work, 'prometheus-data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { logFile: path.join(work, 'prometheus.log') },
  );
  const url = `http://127.0.0.1:${port}`;
  await eventually(
    async () => (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) })).ok,
    60_000,
    200,
  );

  const good = new Set<string>();
  let listed: string[] = [];
  let stopped = false;
  const refresh = async () => {
    const groups: { targets: string[]; labels: Record<string, string> }[] = [];
    for (const namespace of namespaces) {
      const r = await kubectl(['get', 'replicasets', '-n', namespace, '-o', 'json']);
      if (r.code !== 0) continue;
      for (const rs of (JSON.parse(r.stdout) as { items: Rs[] }).items) {
        const app = rs.metadata.labels?.['app.kubernetes.io/name'] ?? '';
        const hash = rs.metadata.labels?.['rollouts-pod-template-hash'];
        const image = rs.spec?.template?.spec?.containers?.find((c) => c.name === app)?.image ?? '';
        const target = processes[app];
        if (!hash || !target || !good.has(image.split('@')[1] ?? '')) continue;
        groups.push({
          targets: [new URL(target).host],
          labels: { namespace, app, rollouts_pod_template_hash: hash },
        });
      }
    }
    const next = groups.map(
      (g) => `${g.labels.namespace}/${g.labels.app}/${g.labels.rollouts_pod_template_hash}`,
    );
    if (next.join() === listed.join()) return;
    writeFileSync(`${sd}.tmp`, JSON.stringify(groups));
    renameSync(`${sd}.tmp`, sd);
    listed = next;
  };
  const loop = (async () => {
    while (!stopped) {
      await refresh().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return {
    url,
    good,
    targets: () => [...listed],
    stop: async () => {
      stopped = true;
      await loop;
      await prom.stop();
    },
  };
}
