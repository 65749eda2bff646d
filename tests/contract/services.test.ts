/**
 * The launcher's table of services (packages/stack/src/services.ts, derived from services/*), the
 * Kubernetes overlays (rendered with `kubectl kustomize`, read-only) and services/* agree:
 * the same services; each workload gets every connection setting the service needs (from its
 * ConfigMaps, its Secret's keys in deploy/external-secrets.json, or its env); the peer URLs name
 * real Services; a migration Job exactly for the services whose PostgreSQL migrations Kubernetes
 * must run. docs/adding-a-service.md says what to add when this fails for a new service.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { parseConfig } from '@mdp/platform/config';
import { connectionEnv, GATEWAY, type Resources, signingKeys } from '@mdp/stack/launcher';
import { loadServices, ROOT, type ServiceEntry, serviceUrlSetting } from '@mdp/stack/services';
import { parseAllDocuments } from 'yaml';

interface K8sObject {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  spec?: {
    template?: { spec?: { containers?: Container[] } };
    workloadRef?: { kind: string; name: string };
  };
}
interface Container {
  image?: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
}

const OVERLAYS = readdirSync(path.join(ROOT, 'deploy/overlays'));
const externalSecrets = JSON.parse(readFileSync(path.join(ROOT, 'deploy/external-secrets.json'), 'utf8')) as {
  secrets: Record<string, { keys: string[] }>;
};

/** Placeholder resources: only the setting names matter here. */
const resources: Resources = {
  database: (name) => `postgres://u@db/${name}`,
  redisUrl: 'redis://redis',
  amqpUrl: 'amqp://mq',
  keys: signingKeys(),
  urlOf: (name) => `http://${name}`,
};
/** The connection settings a service cannot start without (what the launcher gives it). */
const neededSettings = (entry: ServiceEntry) => Object.keys(connectionEnv(entry, resources));

/** True when the service's database setting accepts only PostgreSQL (the catalog may be MongoDB). */
const postgresOnly = (entry: ServiceEntry) => {
  if (!entry.database) return false;
  try {
    parseConfig(
      entry.definition.config,
      { [entry.database.setting]: 'mongodb://m/x' },
      entry.definition.localDefaults as Record<string, string>,
    );
    return false;
  } catch (err) {
    return String((err as Error).message).includes(entry.database.setting);
  }
};

describe('the launcher, the overlays and services/* agree', () => {
  let services: ServiceEntry[];
  before(async () => {
    services = await loadServices();
  });

  test('the launcher runs exactly the folders of services/, on the contract ports 8080-8084', () => {
    const folders = readdirSync(path.join(ROOT, 'services')).filter((d) =>
      existsSync(path.join(ROOT, 'services', d, 'package.json')),
    );
    assert.deepEqual(services.map((s) => s.name).sort(), folders.sort());
    assert.equal(services[0]?.name, GATEWAY);
    assert.deepEqual(
      services.map((s) => s.port),
      services.map((_, i) => 8080 + i),
    );
    const built = JSON.parse(
      execFileSync(path.join(ROOT, 'scripts/build-images.sh'), ['--list', '--json'], { encoding: 'utf8' }),
    ) as { images: { service: string }[] };
    assert.deepEqual(built.images.map((i) => i.service).sort(), folders.sort(), 'one image per service');
  });

  for (const overlay of OVERLAYS) {
    test(`deploy/overlays/${overlay}: the same services, each with every setting it needs`, () => {
      const rendered = execFileSync('kubectl', ['kustomize', path.join(ROOT, 'deploy/overlays', overlay)], {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      });
      const objects = parseAllDocuments(rendered)
        .map((d) => d.toJS() as K8sObject | null)
        .filter((o): o is K8sObject => Boolean(o));
      const component = (o: K8sObject) => o.metadata.labels?.['app.kubernetes.io/component'];
      const ours = (o: K8sObject) =>
        (o.spec?.template?.spec?.containers ?? []).some((c) => c.image?.startsWith('ghcr.io/'));
      // A Rollout that references its Deployment (workloadRef, deployment-strategies/) has no pod
      // template of its own: the Deployment is the service's workload. Third-party applications
      // (production's Flagsmith) run images of their own, not ours.
      const workloads = objects.filter(
        (o) =>
          ['Deployment', 'Rollout'].includes(o.kind) &&
          !o.spec?.workloadRef &&
          ['api', 'worker'].includes(component(o) ?? '') &&
          ours(o),
      );
      for (const ref of objects.filter((o) => o.kind === 'Rollout' && o.spec?.workloadRef))
        assert.ok(
          workloads.some(
            (w) => w.kind === ref.spec?.workloadRef?.kind && w.metadata.name === ref.spec.workloadRef.name,
          ),
          `Rollout ${ref.metadata.name} references a rendered workload`,
        );
      assert.deepEqual(
        workloads.map((w) => w.metadata.name).sort(),
        services.map((s) => s.name).sort(),
        'one workload per service, no other application workload',
      );
      const configMaps = new Map(
        objects.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o.data ?? {}]),
      );
      const serviceNames = new Set(objects.filter((o) => o.kind === 'Service').map((o) => o.metadata.name));

      for (const entry of services) {
        const workload = workloads.find((w) => w.metadata.name === entry.name) as K8sObject;
        const container = workload.spec?.template?.spec?.containers?.find((c) => c) as Container;
        const values: Record<string, string | undefined> = {};
        for (const from of container.envFrom ?? []) {
          if (from.configMapRef) {
            const data = configMaps.get(from.configMapRef.name);
            assert.ok(data, `${entry.name}: ConfigMap ${from.configMapRef.name} is rendered`);
            Object.assign(values, data);
          }
          if (from.secretRef) {
            const secret = externalSecrets.secrets[from.secretRef.name];
            assert.ok(
              secret,
              `${entry.name}: Secret ${from.secretRef.name} is in deploy/external-secrets.json`,
            );
            for (const key of secret.keys) values[key] ??= undefined;
          }
        }
        for (const e of container.env ?? []) values[e.name] = e.value;
        for (const setting of neededSettings(entry))
          assert.ok(setting in values, `${overlay}: ${entry.name} gets ${setting}`);
        for (const callee of entry.needs.services) {
          const value = values[serviceUrlSetting(callee)];
          if (value !== undefined) {
            assert.equal(value, `http://${callee}`, `${entry.name} reaches ${callee} by its Service`);
            assert.ok(serviceNames.has(callee), `a Service ${callee} exists`);
          }
        }

        const job = objects.find((o) => o.kind === 'Job' && o.metadata.name === `${entry.name}-migrate`);
        if (postgresOnly(entry) && entry.migrations) {
          assert.ok(job, `${overlay}: ${entry.name}-migrate Job runs its PostgreSQL migrations`);
        }
        if (job) {
          assert.ok(entry.migrations, `${entry.name}-migrate: ${entry.name} has migrations/`);
          const c = job.spec?.template?.spec?.containers?.[0] as Container;
          assert.deepEqual(c.args, ['dist/src/migrate.js']);
          const db = c.env?.find((e) => e.name === entry.database?.setting);
          assert.equal(db?.valueFrom?.secretKeyRef?.name, `${entry.name}-secrets`);
        }
      }
      for (const job of objects.filter(
        (o) => o.kind === 'Job' && o.metadata.name.endsWith('-migrate') && ours(o),
      ))
        assert.ok(
          services.some((s) => `${s.name}-migrate` === job.metadata.name),
          `${job.metadata.name} belongs to a service`,
        );
    });
  }
});
