import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { allowedFlows, inCidr } from '../src/flows.js';
import type { Located } from '../src/resources.js';
import { TARGETS, validateRender } from '../src/validate.js';
import { byId, rendered, repoRoot } from './helpers.js';

const SERVICES = ['api-gateway', 'user-service', 'product-service', 'order-service', 'notification-service'];

describe('render', () => {
  for (const target of TARGETS) {
    test(`${target} renders deterministically and passes our policies`, async () => {
      const r = await rendered(target);
      assert.ok(r.items.length > 0);
      assert.equal(r.deterministic, true);
      const report = await validateRender(r, repoRoot);
      assert.deepEqual(report.problems, []);
    });
  }

  test('every overlay places everything in its own namespace, with its own image tags', async () => {
    const tags: Record<string, string> = { dev: 'dev', staging: 'staging', production: '0.1.0' };
    for (const [env, tag] of Object.entries(tags)) {
      const r = await rendered(`deploy/overlays/${env}`);
      for (const item of r.items) {
        if (item.resource.kind === 'Namespace') assert.equal(item.resource.metadata.name, `mdp-${env}`);
        else
          assert.equal(
            item.resource.metadata.namespace,
            `mdp-${env}`,
            `${item.resource.kind}/${item.resource.metadata.name}`,
          );
      }
      for (const s of SERVICES) {
        const image = byId(r.items, 'Deployment', s).resource.spec.template.spec.containers[0].image;
        assert.equal(image, `ghcr.io/mdp-example/${s}:${tag}`);
      }
    }
  });

  test('the edge routes only the API and the docs: no /metrics, /readyz or /version from outside', async () => {
    for (const env of ['dev', 'staging', 'production']) {
      const r = await rendered(`deploy/overlays/${env}`);
      const ingresses = r.items.filter((i) => i.resource.kind === 'Ingress');
      assert.ok(ingresses.length > 0, `${env} has an Ingress`);
      for (const { resource } of ingresses)
        for (const rule of resource.spec.rules as { http: { paths: { path: string; pathType: string }[] } }[])
          assert.deepEqual(
            rule.http.paths.map((p) => `${p.pathType} ${p.path}`).sort(),
            ['Prefix /api', 'Prefix /docs'],
            `${env}: Ingress ${resource.metadata.name}`,
          );
    }
  });

  test('the image owner appears only in the overlays images: entries', () => {
    const grep = spawnSync('git', ['grep', '-l', 'ghcr.io/mdp-example', '--', 'deploy', 'databases'], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    const files = grep.stdout
      .trim()
      .split('\n')
      .filter((f) => f && !f.endsWith('.md'))
      .sort();
    assert.deepEqual(files, [
      'deploy/overlays/dev/kustomization.yaml',
      'deploy/overlays/production/kustomization.yaml',
      'deploy/overlays/staging/kustomization.yaml',
    ]);
  });

  test('production: more replicas, topology spread, stricter budgets, HA datastores', async () => {
    const prod = await rendered('deploy/overlays/production');
    const dev = await rendered('deploy/overlays/dev');
    const hpa = byId(prod.items, 'HorizontalPodAutoscaler', 'api-gateway').resource.spec;
    assert.ok(hpa.minReplicas >= 3);
    assert.ok(
      hpa.minReplicas > byId(dev.items, 'HorizontalPodAutoscaler', 'api-gateway').resource.spec.minReplicas,
    );
    for (const s of SERVICES) {
      const spread = byId(prod.items, 'Deployment', s).resource.spec.template.spec.topologySpreadConstraints;
      assert.ok(Array.isArray(spread) && spread.length === 2, s);
    }
    assert.equal(byId(prod.items, 'PodDisruptionBudget', 'order-service').resource.spec.minAvailable, 2);
    assert.equal(byId(prod.items, 'StatefulSet', 'mongodb').resource.spec.replicas, 3);
    // Highly available datastores in production, single instances in dev.
    const pg = byId(prod.items, 'Cluster', 'postgresql').resource.spec;
    assert.equal(pg.instances, 3);
    assert.deepEqual([pg.postgresql.synchronous.method, pg.postgresql.synchronous.number], ['any', 1]);
    assert.equal(pg.storage.size, '50Gi');
    assert.ok(pg.backup.barmanObjectStore.destinationPath.startsWith('s3://'));
    assert.equal(
      byId(prod.items, 'ScheduledBackup', 'postgresql-nightly').resource.spec.cluster.name,
      'postgresql',
    );
    assert.equal(byId(prod.items, 'RabbitmqCluster', 'rabbitmq').resource.spec.replicas, 3);
    assert.equal(byId(prod.items, 'StatefulSet', 'redis').resource.spec.replicas, 3);
    assert.equal(byId(prod.items, 'StatefulSet', 'redis-cache').resource.spec.replicas, 1);
    assert.ok(
      !prod.items.some((i) => i.resource.kind === 'StatefulSet' && i.resource.metadata.name === 'postgresql'),
    );
    for (const job of ['user-service-migrate', 'order-service-migrate', 'notification-service-migrate'])
      assert.ok(byId(prod.items, 'Job', job));
    assert.equal(byId(dev.items, 'StatefulSet', 'postgresql').resource.spec.replicas, 1);
    assert.equal(byId(dev.items, 'StatefulSet', 'redis').resource.spec.replicas, 1);
    assert.equal(byId(dev.items, 'StatefulSet', 'rabbitmq').resource.spec.replicas, 1);
    assert.equal(
      byId(dev.items, 'StatefulSet', 'postgresql').resource.spec.volumeClaimTemplates[0].spec
        .storageClassName,
      'standard',
    );
    // Demo data only outside production.
    assert.ok(
      dev.items.some((i) => i.resource.kind === 'Job' && i.resource.metadata.name === 'postgresql-seed'),
    );
    assert.ok(
      !prod.items.some((i) => i.resource.kind === 'Job' && i.resource.metadata.name === 'postgresql-seed'),
    );
  });

  test('production reads flags from Flagsmith (local evaluation, server-side key), the mounted flag file as fallback; dev and staging from the file', async () => {
    const common = (items: Located[]) =>
      items.find(
        (i) => i.resource.kind === 'ConfigMap' && i.resource.metadata.name.startsWith('mdp-common-config'),
      )?.resource.data as Record<string, string>;
    for (const env of ['dev', 'staging']) {
      const r = await rendered(`deploy/overlays/${env}`);
      assert.equal(common(r.items).FLAGS_PROVIDER, 'file', env);
      assert.ok(!r.items.some((i) => i.resource.metadata?.name?.startsWith('flagsmith')), env);
    }
    const prod = await rendered('deploy/overlays/production');
    const cfg = common(prod.items);
    assert.equal(cfg.FLAGS_PROVIDER, 'flagsmith');
    assert.equal(cfg.FLAGSMITH_LOCAL_EVALUATION, 'true');
    // The API URL names a rendered Service whose port leads to the Flagsmith API's pods.
    const url = new URL(cfg.FLAGSMITH_API_URL ?? '');
    assert.equal(url.pathname, '/api/v1/');
    const svc = byId(prod.items, 'Service', url.hostname).resource.spec;
    const svcPort = svc.ports.find((p: { port: number }) => p.port === Number(url.port || 80));
    assert.ok(svcPort, `Service ${url.hostname} has no port ${url.port || 80}`);
    const api = byId(prod.items, 'Deployment', 'flagsmith-api').resource.spec.template;
    for (const [k, v] of Object.entries(svc.selector as Record<string, string>))
      assert.equal(api.metadata.labels[k], v, `Service ${url.hostname} selects the Flagsmith API pods`);
    const apiContainer = api.spec.containers[0];
    assert.equal(apiContainer.args[0], 'serve');
    assert.ok(
      apiContainer.ports.some(
        (p: { name: string; containerPort: number }) =>
          p.name === svcPort.targetPort || p.containerPort === svcPort.targetPort,
      ),
    );
    const processor = byId(prod.items, 'Deployment', 'flagsmith-task-processor').resource.spec.template;
    assert.equal(processor.spec.containers[0].args[0], 'run-task-processor');
    const fsConfig = byId(prod.items, 'ConfigMap', apiContainer.envFrom[0].configMapRef.name).resource.data;
    assert.equal(fsConfig.TASK_RUN_METHOD, 'TASK_PROCESSOR');
    assert.ok(fsConfig.DJANGO_ALLOWED_HOSTS.split(',').includes(url.hostname), 'DJANGO_ALLOWED_HOSTS');
    // Every service: the key from the flagsmith-sdk Secret, and the fallback file mounted (a
    // ConfigMap volume of mdp-flags as a directory, no subPath) where FLAGS_FILE points.
    for (const s of SERVICES) {
      const pod = byId(prod.items, 'Deployment', s).resource.spec.template.spec;
      const c = pod.containers[0];
      assert.ok(
        c.envFrom.some((e: { secretRef?: { name: string } }) => e.secretRef?.name === 'flagsmith-sdk'),
        `${s} reads flagsmith-sdk`,
      );
      const dir = path.posix.dirname(cfg.FLAGS_FILE ?? '');
      const mount = c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === dir);
      assert.ok(mount && !mount.subPath, `${s} mounts ${dir}`);
      const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
      assert.match(volume?.configMap?.name ?? '', /^mdp-flags/, s);
    }
  });

  test('Argo CD: automated self-healing sync for dev and staging, manual for production', async () => {
    const r = await rendered('deploy/argocd');
    const apps = Object.fromEntries(
      r.items
        .filter((i) => i.resource.kind === 'Application')
        .map((i) => [i.resource.metadata.name, i.resource.spec]),
    );
    for (const env of ['dev', 'staging']) {
      assert.deepEqual(apps[`mdp-${env}`].syncPolicy.automated, { prune: true, selfHeal: true });
      assert.equal(apps[`mdp-${env}`].source.path, `deploy/overlays/${env}`);
    }
    assert.equal(apps['mdp-production'].syncPolicy.automated, undefined);
    assert.equal(apps['mdp-production'].destination.namespace, 'mdp-production');
  });

  test('the NetworkPolicies allow exactly the flows of the architecture', async () => {
    for (const target of ['deploy/overlays/dev', 'deploy/overlays/production']) {
      const r = await rendered(target);
      const flows = allowedFlows(r.items);
      const pods = new Set(flows.map((f) => f.split(' -> ')[0]));
      // Every pod of the namespace may resolve names, and nothing else is allowed to reach DNS.
      const dns = flows.filter((f) => f.includes('-> kube-dns:'));
      assert.equal(
        dns.length,
        2 *
          [...pods].filter(
            (p) => !['ingress-nginx', 'prometheus', 'cnpg-operator', 'rabbitmq-operator'].includes(p ?? ''),
          ).length,
      );
      const expected = [
        'ingress-nginx -> api-gateway:8080/TCP',
        ...SERVICES.map((s) => `prometheus -> ${s}:8080/TCP`),
        ...SERVICES.map((s) => `${s} -> otel-collector:4318/TCP`),
        'api-gateway -> user-service:8080/TCP',
        'api-gateway -> product-service:8080/TCP',
        'api-gateway -> order-service:8080/TCP',
        'api-gateway -> notification-service:8080/TCP',
        'api-gateway -> redis:6379/TCP',
        'user-service -> postgresql:5432/TCP',
        'user-service -> redis:6379/TCP',
        'user-service -> rabbitmq:5672/TCP',
        'product-service -> mongodb:27017/TCP',
        'product-service -> rabbitmq:5672/TCP',
        'order-service -> postgresql:5432/TCP',
        'order-service -> product-service:8080/TCP',
        'order-service -> rabbitmq:5672/TCP',
        'notification-service -> postgresql:5432/TCP',
        'notification-service -> rabbitmq:5672/TCP',
        'notification-service -> internet:443/TCP',
        'user-service-migrate -> postgresql:5432/TCP',
        'order-service-migrate -> postgresql:5432/TCP',
        'notification-service-migrate -> postgresql:5432/TCP',
        'mongodb -> mongodb:27017/TCP',
        'mongodb-init -> mongodb:27017/TCP',
        'rabbitmq-definitions -> rabbitmq:15672/TCP',
        ...(target.endsWith('dev')
          ? ['postgresql-seed -> postgresql:5432/TCP', 'product-service -> redis:6379/TCP']
          : [
              // production's HA datastores: Sentinel clients, the disposable product cache,
              // replication and clustering between members, the operators, the exporters, and
              // HTTPS out of the database and broker pods (Kubernetes API, backup object store).
              'api-gateway -> redis:26379/TCP',
              'user-service -> redis:26379/TCP',
              'product-service -> redis-cache:6379/TCP',
              'redis -> redis:6379/TCP',
              'redis -> redis:26379/TCP',
              'postgresql -> postgresql:5432/TCP',
              'cnpg-operator -> postgresql:5432/TCP',
              'cnpg-operator -> postgresql:8000/TCP',
              'prometheus -> postgresql:9187/TCP',
              'postgresql -> internet:443/TCP',
              'postgresql -> private-network:443/TCP',
              'rabbitmq -> rabbitmq:4369/TCP',
              'rabbitmq -> rabbitmq:25672/TCP',
              'rabbitmq-operator -> rabbitmq:15672/TCP',
              'prometheus -> rabbitmq:15692/TCP',
              'rabbitmq -> internet:443/TCP',
              'rabbitmq -> private-network:443/TCP',
              // Flagsmith (deployment-strategies/feature-flags/flagsmith): the services fetch
              // the environment document; only Flagsmith reaches its database.
              ...SERVICES.map((s) => `${s} -> flagsmith-api:8000/TCP`),
              'flagsmith-api -> flagsmith-postgresql:5432/TCP',
              'flagsmith-task-processor -> flagsmith-postgresql:5432/TCP',
              'flagsmith-migrate -> flagsmith-postgresql:5432/TCP',
            ]),
      ].sort();
      assert.deepEqual(
        flows.filter((f) => !f.includes('-> kube-dns:')),
        expected,
        target,
      );
      // Private networks stay closed to the outbound channels (only the operator-run datastores
      // reach HTTPS there: the Kubernetes API).
      assert.ok(
        flows
          .filter((f) => f.includes('private-network'))
          .every((f) => f.startsWith('postgresql ->') || f.startsWith('rabbitmq ->')),
      );
    }
  });

  test('inCidr', () => {
    assert.equal(inCidr('10.1.2.3', '10.0.0.0/8'), true);
    assert.equal(inCidr('203.0.113.10', '10.0.0.0/8'), false);
    assert.equal(inCidr('203.0.113.10', '0.0.0.0/0'), true);
  });
});

describe('validate:k8s command', () => {
  const cli = path.join(repoRoot, 'packages/k8s-validate/src/cli.ts');
  const run = (root: string, ...targets: string[]) =>
    spawnSync(
      process.execPath,
      ['--conditions=mdp-source', '--import', 'tsx', cli, '--root', root, ...targets],
      {
        cwd: repoRoot,
        encoding: 'utf8',
      },
    );

  // The server-side stage and a failing run: test/server.test.ts.
  test('passes on the repository and prints the figures (offline stage)', () => {
    const res = run(repoRoot, '--offline', 'deploy/overlays/dev');
    assert.equal(res.status, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /ok {3}deploy\/overlays\/dev: \d+ documents, deterministic, 0 problem\(s\)/);
  });
});
