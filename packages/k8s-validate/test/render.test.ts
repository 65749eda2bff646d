import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { allowedFlows, inCidr } from '../src/flows.js';
import { TARGETS, validateRender } from '../src/validate.js';
import { byId, rendered, repoRoot } from './helpers.js';

const DEMO_SEED_SQL = 'databases/postgresql/demo-seed/seed.sql';
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

  test('the demo seed (admin with the password of .env.example) is in dev only; staging and production take their admin from a Secret', async () => {
    const demoPassword = /^SEED_ADMIN_PASSWORD=(.*)$/m.exec(
      readFileSync(path.join(repoRoot, '.env.example'), 'utf8'),
    )?.[1];
    assert.ok(demoPassword, '.env.example has a SEED_ADMIN_PASSWORD');
    // The argon2id hash of the demo password that seed.sql inserts.
    const demoHash = /\$argon2id\$[^']+/.exec(readFileSync(path.join(repoRoot, DEMO_SEED_SQL), 'utf8'))?.[0];
    assert.ok(demoHash, `${DEMO_SEED_SQL} holds the demo admin's hash`);
    for (const env of ['dev', 'staging', 'production']) {
      const r = await rendered(`deploy/overlays/${env}`);
      const text = JSON.stringify(r.items.map((i) => i.resource));
      const jobs = r.items.filter((i) => i.resource.kind === 'Job').map((i) => i.resource.metadata.name);
      assert.ok(!text.includes(demoPassword), `${env}: the demo password is in the render`);
      if (env === 'dev') {
        assert.ok(jobs.includes('postgresql-seed'), 'dev loads the demo seed');
        assert.ok(text.includes(demoHash), "dev's seed carries the demo admin");
        assert.ok(!jobs.includes('user-service-admin'), 'dev has the demo admin');
        continue;
      }
      assert.ok(!jobs.includes('postgresql-seed'), `${env}: the demo seed Job is rendered`);
      assert.ok(!text.includes(demoHash), `${env}: the demo admin's hash is in the render`);
      // The admin of staging and production: user-service's seed in the service image, with the
      // address and password from the Secret user-service-admin (created per namespace).
      const job = byId(r.items, 'Job', 'user-service-admin').resource;
      const c = job.spec.template.spec.containers[0];
      assert.equal(
        c.image,
        byId(r.items, 'Deployment', 'user-service').resource.spec.template.spec.containers[0].image,
      );
      assert.deepEqual(c.args, ['dist/src/seed.js']);
      const env_ = Object.fromEntries(
        (c.env as { name: string; value?: string; valueFrom?: unknown }[]).map((e) => [e.name, e]),
      );
      assert.equal(env_.NODE_ENV?.value, 'production');
      for (const name of ['SEED_ADMIN_EMAIL', 'SEED_ADMIN_PASSWORD'])
        assert.deepEqual(
          env_[name]?.valueFrom,
          { secretKeyRef: { name: 'user-service-admin', key: name } },
          `${env}: ${name}`,
        );
    }
  });

  test('two Redis in every overlay: redis (maxmemory, noeviction) and redis-cache (maxmemory, allkeys-lru), from the shipped files', async () => {
    const shipped = (f: string) => readFileSync(path.join(repoRoot, f), 'utf8');
    for (const env of ['dev', 'staging', 'production']) {
      const r = await rendered(`deploy/overlays/${env}`);
      // Production's Sentinel-managed redis takes redis.conf from its scripts ConfigMap.
      const conf = (name: string, volumeName = 'config') => {
        const sts = byId(r.items, 'StatefulSet', name).resource;
        const volume = (
          sts.spec.template.spec.volumes as { name: string; configMap?: { name: string } }[]
        ).find((v) => v.name === volumeName);
        assert.ok(volume?.configMap, `${env}: ${name} mounts its redis.conf`);
        return byId(r.items, 'ConfigMap', volume.configMap.name).resource.data['redis.conf'] as string;
      };
      assert.equal(conf('redis-cache'), shipped('databases/redis-cache/redis.conf'), `${env}: redis-cache`);
      assert.match(conf('redis-cache'), /^maxmemory-policy allkeys-lru$/m);
      assert.match(conf('redis-cache'), /^maxmemory \d+mb$/m);
      const tokens = conf('redis', env === 'production' ? 'scripts' : 'config');
      assert.equal(
        tokens,
        shipped(env === 'production' ? 'databases/redis-ha/redis.conf' : 'databases/redis/redis.conf'),
      );
      assert.match(tokens, /^maxmemory-policy noeviction$/m);
      assert.match(tokens, /^maxmemory \d+mb$/m);
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
        // The product cache is its own Redis (allkeys-lru) in every environment.
        'product-service -> redis-cache:6379/TCP',
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
          ? ['postgresql-seed -> postgresql:5432/TCP']
          : [
              // production's HA datastores: Sentinel clients, the disposable product cache,
              // replication and clustering between members, the operators, the exporters, and
              // HTTPS out of the database and broker pods (Kubernetes API, backup object store).
              'user-service-admin -> postgresql:5432/TCP',
              'api-gateway -> redis:26379/TCP',
              'user-service -> redis:26379/TCP',
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
