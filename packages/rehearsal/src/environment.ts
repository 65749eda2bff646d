/**
 * What every rehearsal runs on, started once (a CLI run, or a test file for all six): the local
 * cluster with the real Argo Rollouts controller, a real Prometheus, HAProxy, and the services as
 * processes — product-service and the stable builds (v1) of order-service and user-service, the
 * production gateway (its user-service and order-service behind HAProxy) and a second gateway
 * that plays the smoke Job's sidecar (its user-service is the preview frontend). The new build
 * (v2) of the service under test is started per rehearsal, with its own flag file.
 * notification-service is not started: no rehearsal releases it or needs it.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Cluster, startCluster } from '@mdp/cluster/cluster';
import { CRD_SOURCES } from '@mdp/cluster/crds';
import type { Managed } from '@mdp/cluster/processes';
import { startRolloutsController } from '@mdp/k8s-validate/server';
import {
  freePort,
  TEST_REDIS_URL,
  type TempDatabase,
  type TempVhost,
  tempDatabase,
  tempRedisPrefix,
  tempVhost,
} from '@mdp/platform/testing';
import {
  connectionEnv,
  prepareDatabases,
  type Resources,
  signingKeys,
  spawnService,
  stopProcesses,
  waitReady,
} from '@mdp/stack/launcher';
import { loadServices, ROOT, type ServiceEntry } from '@mdp/stack/services';
import { type HAProxy, startHAProxy } from './haproxy.js';
import { informers, type KubeObject } from './kube.js';
import { renderProduction, SMOKE_POD_LABEL, serviceObjects, type Timing, timing } from './manifests.js';
import { type Prometheus, startPrometheus } from './prometheus.js';

/** The services whose releases are rehearsed, and the frontends their traffic enters by. */
export const RELEASED = {
  'order-service': { frontends: ['order-service'] },
  'user-service': { frontends: ['user-service', 'user-service-preview'] },
} as const;
export type Released = keyof typeof RELEASED;

/** A fake but well-formed image digest per build (the controller hashes the template, nothing pulls it). */
export const imageOf = (service: string, build: 'v1' | 'v2') =>
  `ghcr.io/mdp-example/${service}@sha256:${createHash('sha256').update(`${service} ${build}`).digest('hex')}`;

export interface Environment {
  dir: string;
  cluster: Cluster;
  kube: ReturnType<typeof informers>;
  render: KubeObject[];
  timing: Timing;
  prometheus: Prometheus;
  haproxy: HAProxy;
  gateway: string;
  smokeGateway: string;
  ports: Record<Released, { v1: number }>;
  /** Starts the new build of `service` with these flag variants; resolves when it is ready. */
  startV2(service: Released, flags: Record<string, string>): Promise<{ port: number; stop(): Promise<void> }>;
  output(name: string): string;
  stop(): Promise<void>;
}

const SHARED = (redisPrefix: string, flagsFile: string) => ({
  NODE_ENV: 'test',
  LOG_LEVEL: 'warn',
  SHUTDOWN_DRAIN_MS: '0',
  REDIS_KEY_PREFIX: redisPrefix,
  FLAGS_PROVIDER: 'file',
  FLAGS_FILE: flagsFile,
});

/** A copy of the shipped flag file with some flags' default variants changed. */
function flagFile(dir: string, name: string, flags: Record<string, string>): string {
  const shipped = JSON.parse(readFileSync(path.join(ROOT, 'config/flags/flags.json'), 'utf8')) as {
    flags: Record<string, { variants: Record<string, unknown>; defaultVariant: string }>;
  };
  for (const [key, variant] of Object.entries(flags)) {
    const f = shipped.flags[key];
    if (!f || !(variant in f.variants)) throw new Error(`flag ${key} has no variant ${variant}`);
    f.defaultVariant = variant;
  }
  const file = path.join(dir, `flags-${name}.json`);
  writeFileSync(file, JSON.stringify(shipped, null, 2));
  return file;
}

export async function startEnvironment(opts: {
  scale: number;
  /** Prometheus' scrape interval (default: the PodMonitor's × scale). */
  scrapeSeconds?: number;
  log?: (line: string) => void;
}): Promise<Environment> {
  const log = opts.log ?? (() => {});
  const dir = mkdtempSync(path.join(tmpdir(), 'mdp-rehearsal-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  const outputs: Record<string, string> = {};
  const procs: ChildProcess[] = [];
  const stop = async () => {
    await stopProcesses(
      procs.filter((p) => p.exitCode === null && p.signalCode === null),
      5000,
    );
    for (const c of cleanups.reverse()) await c().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const render = await renderProduction(ROOT);
    const orderObjs = serviceObjects(render, 'order-service');
    const userObjs = serviceObjects(render, 'user-service');
    const t = timing(opts.scale, orderObjs.podMonitor, opts.scrapeSeconds);
    const started = performance.now();
    const since = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;

    // The cluster (only the CRDs the rehearsal uses), the controller.
    const cluster = await startCluster({
      crds: CRD_SOURCES.filter((c) => ['Argo Rollouts', 'Gateway API', 'Istio'].includes(c.name)),
      heldJobPods: { label: SMOKE_POD_LABEL.key, value: SMOKE_POD_LABEL.value },
    });
    cleanups.push(() => cluster.stop());
    const controller: Managed = await startRolloutsController(
      cluster.kubeconfig,
      path.join(dir, 'rollouts-controller.log'),
      cluster.kubectl,
    );
    cleanups.push(() => controller.stop());
    log(`cluster and Argo Rollouts controller up (${since()})`);

    // v2's port is chosen when it starts (a port reserved now could be a client socket's by then);
    // HAProxy's v2 servers point at a placeholder until then.
    const ports = {
      'order-service': { v1: await freePort(), v2: 9 },
      'user-service': { v1: await freePort(), v2: 9 },
    };
    const prometheus = await startPrometheus(dir, await freePort(), [
      {
        name: 'order-service',
        podMonitor: orderObjs.podMonitor as KubeObject,
        scrapeSeconds: t.scrapeSeconds,
      },
      { name: 'user-service', podMonitor: userObjs.podMonitor as KubeObject, scrapeSeconds: t.scrapeSeconds },
    ]);
    cleanups.push(() => prometheus.stop());
    const haproxy = await startHAProxy(dir, [
      {
        name: 'order-service',
        port: await freePort(),
        servers: ports['order-service'],
        initial: { v1: 1, v2: 0 },
      },
      {
        name: 'user-service',
        port: await freePort(),
        servers: ports['user-service'],
        initial: { v1: 1, v2: 0 },
      },
      {
        name: 'user-service-preview',
        port: await freePort(),
        servers: ports['user-service'],
        initial: { v1: 1, v2: 0 },
      },
    ]);
    cleanups.push(() => haproxy.stop());

    // Datastores of this environment only.
    const services = await loadServices();
    const entry = (name: string) => services.find((s) => s.name === name) as ServiceEntry;
    const databases: Record<string, TempDatabase> = {};
    const [vhost] = await Promise.all([
      tempVhost('rehearsal'),
      ...['users', 'catalog', 'orders'].map(async (db) => {
        databases[db] = await tempDatabase(`rehearsal_${db}`);
      }),
    ]);
    const redis = tempRedisPrefix('rehearsal');
    cleanups.push(() =>
      Promise.allSettled([
        ...Object.values(databases).map((d) => d.drop()),
        (vhost as TempVhost).drop(),
        redis.drop(),
      ]),
    );
    const productPort = await freePort();
    const [gatewayPort, smokePort] = [await freePort(), await freePort()];
    const keys = signingKeys();
    const resources = (urls: Record<string, string>): Resources => ({
      database: (name) => (databases[name] as TempDatabase).url,
      redisUrl: TEST_REDIS_URL,
      amqpUrl: (vhost as TempVhost).url,
      keys,
      urlOf: (name) => urls[name] ?? 'http://127.0.0.1:9',
    });
    const direct = {
      'product-service': `http://127.0.0.1:${productPort}`,
      'order-service': haproxy.url('order-service'),
      'user-service': haproxy.url('user-service'),
    };
    const shippedFlags = path.join(ROOT, 'config/flags/flags.json');
    const shared = SHARED(redis.keyPrefix, shippedFlags);
    await prepareDatabases(
      ['user-service', 'product-service', 'order-service'].map(entry),
      resources(direct),
      { env: shared },
    );
    const spawn = (
      name: string,
      service: string,
      port: number,
      urls: Record<string, string>,
      extra: Record<string, string> = {},
    ) => {
      const e = entry(service);
      const child = spawnService(e, {
        telemetry: false,
        env: {
          ...shared,
          ...connectionEnv(e, resources(urls)),
          ...extra,
          HOST: '127.0.0.1',
          PORT: String(port),
        },
      });
      outputs[name] = '';
      const keep = (d: Buffer) => {
        outputs[name] = `${outputs[name] ?? ''}${d}`.slice(-20_000);
      };
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      procs.push(child);
      return child;
    };
    const gatewayEnv = { AUTH_RATE_LIMIT_PER_MINUTE: '1000000' };
    const started_ = {
      'product-service': spawn('product-service', 'product-service', productPort, direct),
      'order-service v1': spawn('order-service v1', 'order-service', ports['order-service'].v1, direct),
      'user-service v1': spawn('user-service v1', 'user-service', ports['user-service'].v1, direct),
      'api-gateway': spawn('api-gateway', 'api-gateway', gatewayPort, direct, gatewayEnv),
      // The smoke Job's sidecar gateway: its user-service is the preview Service.
      'smoke gateway': spawn(
        'smoke gateway',
        'api-gateway',
        smokePort,
        { ...direct, 'user-service': haproxy.url('user-service-preview') },
        gatewayEnv,
      ),
    };
    const urls = {
      'product-service': direct['product-service'],
      'order-service v1': `http://127.0.0.1:${ports['order-service'].v1}`,
      'user-service v1': `http://127.0.0.1:${ports['user-service'].v1}`,
      'api-gateway': `http://127.0.0.1:${gatewayPort}`,
      'smoke gateway': `http://127.0.0.1:${smokePort}`,
    };
    await waitReady(urls, {
      timeoutMs: 180_000,
      exited: (n) => started_[n as keyof typeof started_]?.exitCode !== null,
    }).catch((err: Error) => {
      throw new Error(
        `${err.message}\n${Object.entries(outputs)
          .map(([k, v]) => `--- ${k}\n${v}`)
          .join('\n')}`,
      );
    });
    log(`services up (${since()})`);

    return {
      dir,
      cluster,
      kube: informers(cluster.kubeconfig),
      render,
      timing: t,
      prometheus,
      haproxy,
      gateway: urls['api-gateway'],
      smokeGateway: urls['smoke gateway'],
      ports,
      async startV2(service, flags) {
        const name = `${service} v2`;
        const file = flagFile(dir, name.replace(' ', '-'), flags);
        const port = await freePort();
        const child = spawn(name, service, port, direct, { FLAGS_FILE: file });
        for (const f of RELEASED[service].frontends) await haproxy.setPort(f, 'v2', port);
        await waitReady(
          { [name]: `http://127.0.0.1:${port}` },
          { timeoutMs: 120_000, exited: () => child.exitCode !== null },
        ).catch((err: Error) => {
          throw new Error(`${err.message}\n${outputs[name] ?? ''}`);
        });
        return { port, stop: () => stopProcesses([child], 5000) };
      },
      output: (n) => outputs[n] ?? '',
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
