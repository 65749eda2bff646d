/**
 * The observability engines as local processes, with the files of monitoring/ and nothing
 * re-implemented: Prometheus (Debian) with every rule file of monitoring/prometheus and
 * monitoring/slo/rules and a scrape configuration that relabels like the PodMonitors,
 * Alertmanager (Debian) with monitoring/alertmanager, postgres_exporter and redis_exporter
 * (Debian), the collector (otelcol-mdp) with monitoring/jaeger/collector-config.yaml and Jaeger v2
 * with monitoring/jaeger/jaeger-config.yaml. `npm start` and the live test (tests/e2e/observability.test.ts)
 * start them through `startObservability`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '@mdp/platform/testing';
import { repoRoot, toolPath } from '@mdp/platform/tools';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { configFile } from './alertmanager.js';
import { type RuleFile, root, ruleFiles } from './monitoring.js';

/** The engines, by the name of their program. */
export const ENGINES = {
  prometheus: 'prometheus',
  alertmanager: 'prometheus-alertmanager',
  postgresExporter: 'prometheus-postgres-exporter',
  redisExporter: 'prometheus-redis-exporter',
  collector: 'otelcol-mdp',
  jaeger: 'jaeger',
} as const;
export type Engine = keyof typeof ENGINES;

/** The engines found (.tools/bin or PATH), and the missing ones. */
export function installedEngines(): { installed: Engine[]; missing: Engine[] } {
  const installed: Engine[] = [];
  const missing: Engine[] = [];
  for (const e of Object.keys(ENGINES) as Engine[]) {
    try {
      toolPath(ENGINES[e]);
      installed.push(e);
    } catch {
      missing.push(e);
    }
  }
  return { installed, missing };
}

/** One scrape target, described as Kubernetes service discovery would show its pod. */
export interface Target {
  /** host:port of the metrics endpoint. */
  address: string;
  metricsPath?: string;
  /**
   * The PodMonitor (path from the repository root) whose relabelings apply; without one, the
   * relabeling every PodMonitor of the repository has (app from app.kubernetes.io/name).
   */
  podMonitor?: string;
  /** The pod's labels (e.g. app.kubernetes.io/name). */
  podLabels: Record<string, string>;
  pod: string;
  container: string;
}

interface PodMonitor {
  metadata: { name: string };
  spec: {
    podMetricsEndpoints: {
      path?: string;
      relabelings?: {
        sourceLabels?: string[];
        targetLabel?: string;
        action?: string;
        regex?: string;
        replacement?: string;
        separator?: string;
      }[];
    }[];
  };
}

/** Kubernetes SD's name of a pod label: every character outside [a-zA-Z0-9_] becomes `_`. */
const podLabelMeta = (label: string) => `__meta_kubernetes_pod_label_${label.replace(/[^a-zA-Z0-9_]/g, '_')}`;

/**
 * A scrape job that relabels as prometheus-operator does for a PodMonitor: its own labels first
 * (namespace, pod, container, job = <namespace>/<podmonitor>), then the PodMonitor's relabelings
 * (camelCase fields turned into Prometheus's names). The target carries the `__meta_kubernetes_*`
 * labels Kubernetes SD would give its pod.
 */
export function scrapeJob(target: Target, namespace: string, interval: string): Record<string, unknown> {
  const pm: PodMonitor | undefined = target.podMonitor
    ? parseAllDocuments(readFileSync(path.join(repoRoot(), target.podMonitor), 'utf8'))
        .map(
          (d) =>
            d.toJS() as PodMonitor & {
              kind?: string;
              spec: { selector?: { matchLabels?: Record<string, string> } };
            },
        )
        .find(
          (d) =>
            d.kind === 'PodMonitor' &&
            Object.entries(d.spec.selector?.matchLabels ?? {}).every(([k, v]) => target.podLabels[k] === v),
        )
    : {
        metadata: { name: target.podLabels['app.kubernetes.io/name'] ?? target.pod },
        spec: {
          podMetricsEndpoints: [
            {
              relabelings: [{ sourceLabels: [podLabelMeta('app.kubernetes.io/name')], targetLabel: 'app' }],
            },
          ],
        },
      };
  if (!pm) throw new Error(`${target.podMonitor}: no PodMonitor selects the pod of ${target.pod}`);
  const endpoint = pm.spec.podMetricsEndpoints[0];
  if (!endpoint) throw new Error(`${target.podMonitor}: no podMetricsEndpoints`);
  const relabel = (endpoint.relabelings ?? []).map((r) => ({
    ...(r.sourceLabels ? { source_labels: r.sourceLabels } : {}),
    ...(r.targetLabel ? { target_label: r.targetLabel } : {}),
    ...(r.action ? { action: r.action } : {}),
    ...(r.regex ? { regex: r.regex } : {}),
    ...(r.replacement !== undefined ? { replacement: r.replacement } : {}),
    ...(r.separator ? { separator: r.separator } : {}),
  }));
  const meta: Record<string, string> = {
    __meta_kubernetes_namespace: namespace,
    __meta_kubernetes_pod_name: target.pod,
    __meta_kubernetes_pod_container_name: target.container,
  };
  for (const [k, v] of Object.entries(target.podLabels)) meta[podLabelMeta(k)] = v;
  return {
    job_name: `${target.pod}`,
    scrape_interval: interval,
    metrics_path: target.metricsPath ?? endpoint.path ?? '/metrics',
    static_configs: [{ targets: [target.address], labels: meta }],
    relabel_configs: [
      { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
      { source_labels: ['__meta_kubernetes_pod_container_name'], target_label: 'container' },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
      { target_label: 'job', replacement: `${namespace}/${pm.metadata.name}` },
      ...relabel,
    ],
  };
}

/**
 * The scrape targets of the services at `urls` (name -> http://host:port), with the pod labels of
 * their Kubernetes manifests and their PodMonitors (deploy/base/<name>/podmonitor.yaml).
 */
export function serviceTargets(urls: Record<string, string>): Target[] {
  return Object.entries(urls).map(([name, url]) => {
    const { version } = JSON.parse(
      readFileSync(path.join(repoRoot(), 'services', name, 'package.json'), 'utf8'),
    ) as { version: string };
    return {
      address: new URL(url).host,
      podMonitor: `deploy/base/${name}/podmonitor.yaml`,
      podLabels: {
        'app.kubernetes.io/name': name,
        'app.kubernetes.io/part-of': 'mdp',
        'app.kubernetes.io/version': version,
      },
      pod: `${name}-0`,
      container: name,
    };
  });
}

/** Test-only changes to the rules, stated by whoever uses them. */
export interface RuleOverrides {
  /** Every group evaluated at this interval instead of its own. */
  groupInterval?: string;
  /** `for` of these alerts. */
  for?: Record<string, string>;
}

/** The rule files as plain Prometheus rule files, with the overrides applied. */
export function stageRuleFiles(dir: string, overrides: RuleOverrides = {}, files = ruleFiles()): string[] {
  mkdirSync(dir, { recursive: true });
  return files.map((f: RuleFile) => {
    const groups = f.groups.map((g) => ({
      ...g,
      ...(overrides.groupInterval ? { interval: overrides.groupInterval } : {}),
      rules: g.rules.map((r) =>
        r.alert && overrides.for?.[r.alert] ? { ...r, for: overrides.for[r.alert] } : r,
      ),
    }));
    const file = path.join(dir, f.name);
    writeFileSync(file, stringify({ groups }));
    return file;
  });
}

/**
 * monitoring/alertmanager as it is, except where the Slack webhook URL is read from (the cluster
 * mounts a Secret; here a file holding `slackUrl`).
 */
export function stageAlertmanager(dir: string, slackUrl: string): string {
  mkdirSync(dir, { recursive: true });
  const config = parse(readFileSync(configFile(), 'utf8')) as { global: Record<string, unknown> };
  const urlFile = path.join(dir, 'slack-webhook-url');
  writeFileSync(urlFile, slackUrl, { mode: 0o600 });
  config.global.slack_api_url_file = urlFile;
  copyFileSync(path.join(root(), 'alertmanager', 'slack.tmpl'), path.join(dir, 'slack.tmpl'));
  const file = path.join(dir, 'alertmanager.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

export interface Ports {
  prometheus: number;
  alertmanager: number;
  jaegerUi: number;
  jaegerGrpc: number;
  jaegerOtlpGrpc: number;
  otlpHttp: number;
  otlpGrpc: number;
  spanmetrics: number;
  collectorTelemetry: number;
  jaegerTelemetry: number;
  jaegerHealth: number;
  postgresExporter: number;
  redisExporter: number;
}

export interface ObservabilityOptions {
  /** Where configs, data and logs go. */
  dir: string;
  /**
   * A port of 0 is picked free just before its engine starts, and picked again when another
   * process took it in between (the engine exits with "address already in use"); a given port
   * is used as it is.
   */
  ports: Ports;
  /** The namespace the targets appear in (as in the cluster: mdp-dev, ...). */
  namespace: string;
  /**
   * The services (and anything else) to scrape; the exporters and the collector are added. A
   * function is called once Jaeger and the collector are up (with the collector's OTLP/HTTP
   * URL), before Prometheus starts: the place to start the services that export to it.
   */
  targets: Target[] | ((otlpHttp: string) => Promise<Target[]>);
  scrapeInterval: string;
  evaluationInterval: string;
  rules?: RuleOverrides;
  /** The Slack incoming-webhook URL Alertmanager posts to. */
  slackUrl: string;
  /** postgres_exporter's connection (a postgres:// URL). */
  postgresUrl: string;
  redisUrl: string;
  collector: {
    tailSamplingPercent: number;
    tailDecisionWait: string;
    spanmetricsFlushInterval: string;
    batchTimeout: string;
  };
  /** Extra Prometheus flags (e.g. --rules.alert.resend-delay=1s). */
  prometheusArgs?: string[];
  /** Only these engines (default: every one). */
  engines?: Engine[];
}

export interface Observability {
  urls: { prometheus: string; alertmanager: string; jaeger: string; otlpHttp: string };
  engines: Engine[];
  procs: Partial<Record<Engine, ChildProcess>>;
  output(engine: Engine): string;
  stop(): Promise<void>;
}

const local = (port: number) => `127.0.0.1:${port}`;

/** Resolves when `url` answers (any status below 500, or `ok` says so); rejects after the timeout or when the process exits. */
async function waitHttp(
  url: string,
  proc: ChildProcess,
  timeoutMs: number,
  ok: (status: number) => boolean = (s) => s < 500,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`exited (${proc.exitCode ?? proc.signalCode}) before ${url} answered`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel().catch(() => {});
      if (ok(res.status)) return;
      last = String(res.status);
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready after ${timeoutMs / 1000} s: ${last}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stopAll(procs: ChildProcess[], killAfterMs = 8000): Promise<void> {
  const running = procs.filter((c) => c.exitCode === null && c.signalCode === null);
  const exits = running.map((c) => new Promise<void>((r) => c.once('exit', () => r())));
  for (const c of running) c.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const c of running) if (c.exitCode === null) c.kill('SIGKILL');
  }, killAfterMs);
  await Promise.all(exits);
  clearTimeout(timer);
}

/**
 * Starts the engines (Alertmanager before Prometheus, so the first alert is not dropped; Jaeger
 * before the collector), waits until each answers, and returns their URLs. If one fails, the
 * others are stopped and the error carries its output.
 */
export async function startObservability(opts: ObservabilityOptions): Promise<Observability> {
  const want = new Set<Engine>(opts.engines ?? (Object.keys(ENGINES) as Engine[]));
  const { dir } = opts;
  const ports: Ports = { ...opts.ports };
  const picked = new Set<keyof Ports>();
  mkdirSync(dir, { recursive: true });
  const procs: Partial<Record<Engine, ChildProcess>> = {};
  const outputs: Partial<Record<Engine, string>> = {};
  const start = (engine: Engine, args: string[], env: Record<string, string> = {}) => {
    const log = createWriteStream(path.join(dir, `${engine}.log`));
    const child = spawn(toolPath(ENGINES[engine]), args, {
      cwd: dir,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    outputs[engine] = '';
    const keep = (d: Buffer) => {
      outputs[engine] = `${outputs[engine] ?? ''}${d}`.slice(-20_000);
      log.write(d);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('exit', () => log.end());
    procs[engine] = child;
    return child;
  };
  const stop = () => stopAll(Object.values(procs));
  const ready = async (engine: Engine, url: string, ok?: (s: number) => boolean) => {
    try {
      await waitHttp(url, procs[engine] as ChildProcess, 60_000, ok);
    } catch (err) {
      throw new Error(`${ENGINES[engine]}: ${(err as Error).message}\n${outputs[engine] ?? ''}`);
    }
  };

  /** Starts an engine (`run`: start and wait until ready) on its ports `keys`, see `Ports`. */
  const launch = async (engine: Engine, keys: (keyof Ports)[], run: () => Promise<void>) => {
    for (let attempt = 1; ; attempt++) {
      for (const k of keys)
        if (ports[k] === 0 || picked.has(k)) {
          ports[k] = await freePort();
          picked.add(k);
        }
      try {
        return await run();
      } catch (err) {
        const taken =
          /address already in use/.test((err as Error).message) && keys.some((k) => picked.has(k));
        if (!taken || attempt === 3) throw err;
        procs[engine]?.kill('SIGKILL');
      }
    }
  };

  try {
    return await startAll();
  } catch (err) {
    // Whatever failed, nothing started is left running.
    await stop();
    throw err;
  }

  async function startAll(): Promise<Observability> {
    // Jaeger, then the collector that exports to it.
    if (want.has('jaeger')) {
      await launch(
        'jaeger',
        ['jaegerUi', 'jaegerGrpc', 'jaegerOtlpGrpc', 'jaegerTelemetry', 'jaegerHealth'],
        async () => {
          start('jaeger', [`--config=${path.join(root(), 'jaeger', 'jaeger-config.yaml')}`], {
            QUERY_HTTP_ENDPOINT: local(ports.jaegerUi),
            QUERY_GRPC_ENDPOINT: local(ports.jaegerGrpc),
            OTLP_GRPC_ENDPOINT: local(ports.jaegerOtlpGrpc),
            TELEMETRY_HOST: '127.0.0.1',
            TELEMETRY_PORT: String(ports.jaegerTelemetry),
            HEALTH_ENDPOINT: local(ports.jaegerHealth),
            BATCH_TIMEOUT: opts.collector.batchTimeout,
          });
          await ready('jaeger', `http://${local(ports.jaegerHealth)}/status`, (s) => s === 200);
          await ready('jaeger', `http://${local(ports.jaegerUi)}/api/services`, (s) => s === 200);
        },
      );
    }
    if (want.has('collector')) {
      await launch('collector', ['otlpHttp', 'otlpGrpc', 'spanmetrics', 'collectorTelemetry'], async () => {
        start('collector', [`--config=${path.join(root(), 'jaeger', 'collector-config.yaml')}`], {
          OTLP_HTTP_ENDPOINT: local(ports.otlpHttp),
          OTLP_GRPC_ENDPOINT: local(ports.otlpGrpc),
          JAEGER_OTLP_GRPC_ENDPOINT: local(ports.jaegerOtlpGrpc),
          SPANMETRICS_PROMETHEUS_ENDPOINT: local(ports.spanmetrics),
          TELEMETRY_HOST: '127.0.0.1',
          TELEMETRY_PORT: String(ports.collectorTelemetry),
          TAIL_SAMPLING_PERCENT: String(opts.collector.tailSamplingPercent),
          TAIL_DECISION_WAIT: opts.collector.tailDecisionWait,
          SPANMETRICS_FLUSH_INTERVAL: opts.collector.spanmetricsFlushInterval,
          BATCH_TIMEOUT: opts.collector.batchTimeout,
        });
        // The OTLP/HTTP receiver answers a GET of /v1/traces with 405: it is listening.
        await ready('collector', `http://${local(ports.otlpHttp)}/v1/traces`);
      });
    }

    const targets: Target[] = [
      ...(typeof opts.targets === 'function'
        ? await opts.targets(`http://${local(ports.otlpHttp)}`)
        : opts.targets),
    ];

    // The exporters of the datastores.
    if (want.has('postgresExporter')) {
      const dsn = new URL(opts.postgresUrl);
      if (!dsn.searchParams.has('sslmode')) dsn.searchParams.set('sslmode', 'disable');
      await launch('postgresExporter', ['postgresExporter'], async () => {
        start('postgresExporter', [`--web.listen-address=${local(ports.postgresExporter)}`], {
          DATA_SOURCE_NAME: dsn.toString(),
        });
        await ready('postgresExporter', `http://${local(ports.postgresExporter)}/metrics`, (s) => s === 200);
      });
      targets.push({
        address: local(ports.postgresExporter),
        podMonitor: 'databases/postgresql-ha/podmonitor.yaml',
        // The labels of a CloudNativePG instance pod, which that PodMonitor selects.
        podLabels: {
          'app.kubernetes.io/name': 'postgresql',
          'app.kubernetes.io/component': 'database',
          'cnpg.io/cluster': 'postgresql',
        },
        pod: 'postgresql-0',
        container: 'postgres-exporter',
      });
    }
    if (want.has('redisExporter')) {
      await launch('redisExporter', ['redisExporter'], async () => {
        start('redisExporter', [
          `-redis.addr=${opts.redisUrl}`,
          `-web.listen-address=${local(ports.redisExporter)}`,
        ]);
        await ready('redisExporter', `http://${local(ports.redisExporter)}/metrics`, (s) => s === 200);
      });
      targets.push({
        address: local(ports.redisExporter),
        podLabels: { 'app.kubernetes.io/name': 'redis', 'app.kubernetes.io/component': 'cache' },
        pod: 'redis-0',
        container: 'redis-exporter',
      });
    }
    if (want.has('collector'))
      targets.push({
        address: local(ports.spanmetrics),
        podMonitor: 'monitoring/jaeger/podmonitor.yaml',
        podLabels: {
          'app.kubernetes.io/name': 'otel-collector',
          'app.kubernetes.io/part-of': 'mdp',
          'app.kubernetes.io/component': 'observability',
        },
        pod: 'otel-collector-0',
        container: 'otel-collector',
      });

    // Alertmanager before Prometheus.
    if (want.has('alertmanager')) {
      const amConfig = stageAlertmanager(path.join(dir, 'alertmanager'), opts.slackUrl);
      await launch('alertmanager', ['alertmanager'], async () => {
        start('alertmanager', [
          `--config.file=${amConfig}`,
          `--storage.path=${path.join(dir, 'alertmanager', 'data')}`,
          `--web.listen-address=${local(ports.alertmanager)}`,
          '--cluster.listen-address=',
        ]);
        await ready('alertmanager', `http://${local(ports.alertmanager)}/-/ready`, (s) => s === 200);
      });
    }
    if (want.has('prometheus')) {
      const rules = stageRuleFiles(path.join(dir, 'prometheus', 'rules'), opts.rules);
      const config = {
        global: { scrape_interval: opts.scrapeInterval, evaluation_interval: opts.evaluationInterval },
        rule_files: rules,
        ...(want.has('alertmanager')
          ? { alerting: { alertmanagers: [{ static_configs: [{ targets: [local(ports.alertmanager)] }] }] } }
          : {}),
        scrape_configs: targets.map((t) => scrapeJob(t, opts.namespace, opts.scrapeInterval)),
      };
      const file = path.join(dir, 'prometheus', 'prometheus.yaml');
      writeFileSync(file, stringify(config));
      await launch('prometheus', ['prometheus'], async () => {
        start('prometheus', [
          `--config.file=${file}`,
          `--storage.tsdb.path=${path.join(dir, 'prometheus', 'data')}`,
          `--web.listen-address=${local(ports.prometheus)}`,
          ...(opts.prometheusArgs ?? []),
        ]);
        await ready('prometheus', `http://${local(ports.prometheus)}/-/ready`, (s) => s === 200);
      });
    }
    return {
      urls: {
        prometheus: `http://${local(ports.prometheus)}`,
        alertmanager: `http://${local(ports.alertmanager)}`,
        jaeger: `http://${local(ports.jaegerUi)}`,
        otlpHttp: `http://${local(ports.otlpHttp)}`,
      },
      engines: [...want],
      procs,
      output: (e) => outputs[e] ?? '',
      stop,
    };
  }
}
