import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { allowedFlows, externalEndpoints, inCidr } from '../src/flows.js';
import type { Located } from '../src/resources.js';
import { TARGETS, validateRender } from '../src/validate.js';
import { byId, flaggerVariant, rendered, renderVariant, repoRoot } from './helpers.js';

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
    const hosts: Record<string, string> = {
      dev: 'mdp.localtest.me',
      staging: 'staging.shop.example.com',
      production: 'shop.example.com',
    };
    for (const [env, host] of Object.entries(hosts)) {
      const r = await rendered(`deploy/overlays/${env}`);
      assert.ok(
        !r.items.some((i) => i.resource.kind === 'Ingress'),
        `${env}: no Ingress (ingress-nginx is retired)`,
      );
      const gateway = byId(r.items, 'Gateway', 'mdp').resource;
      assert.equal(gateway.spec.gatewayClassName, 'istio');
      assert.deepEqual(
        gateway.spec.listeners.map(
          (l: { name: string; port: number; protocol: string }) => `${l.name} ${l.protocol} ${l.port}`,
        ),
        ['https HTTPS 443', 'http HTTP 80'],
      );
      const routes = r.items.filter((i) => i.resource.kind === 'HTTPRoute').map((i) => i.resource);
      assert.deepEqual(routes.map((x) => x.metadata.name).sort(), ['api-gateway', 'https-redirect']);
      for (const route of routes)
        assert.deepEqual(route.spec.hostnames, [host], `${env}: ${route.metadata.name}`);
      const api = byId(r.items, 'HTTPRoute', 'api-gateway').resource;
      assert.deepEqual(
        api.spec.parentRefs.map((p: { name: string; sectionName: string }) => `${p.name}/${p.sectionName}`),
        ['mdp/https'],
      );
      assert.equal(api.spec.rules.length, 1);
      assert.deepEqual(
        api.spec.rules[0].matches.map(
          (m: { path: { type: string; value: string } }) => `${m.path.type} ${m.path.value}`,
        ),
        ['PathPrefix /api', 'PathPrefix /docs'],
      );
      // At rest every request goes to the stable pods; the controller moves the weights.
      assert.deepEqual(
        api.spec.rules[0].backendRefs.map((b: { name: string; weight: number }) => `${b.name}=${b.weight}`),
        ['api-gateway-stable=100', 'api-gateway-canary=0'],
      );
      const redirect = byId(r.items, 'HTTPRoute', 'https-redirect').resource;
      assert.deepEqual(redirect.spec.rules, [
        { filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 301 } }] },
      ]);
      const cert = byId(r.items, 'Certificate', 'api-gateway-tls').resource;
      assert.deepEqual(cert.spec.dnsNames, [host]);
      assert.equal(gateway.spec.listeners[0].tls.certificateRefs[0].name, cert.spec.secretName);
    }
  });

  test('without the mesh component, east-west is the replica-weighted fallback', async () => {
    // The production overlay less deployment-strategies/mesh: the Rollouts of order-service and
    // product-service have no traffic router (their share is by replicas), and the render still
    // passes every policy.
    const r = await renderVariant('deploy/overlays/production', (k) =>
      k.replace(/.*deployment-strategies\/mesh\n/, ''),
    );
    assert.ok(!r.items.some((i) => i.resource.kind === 'VirtualService'));
    for (const s of ['order-service', 'product-service'])
      assert.equal(byId(r.items, 'Rollout', s).resource.spec.strategy.canary.trafficRouting, undefined, s);
    assert.ok(byId(r.items, 'Rollout', 'api-gateway').resource.spec.strategy.canary.trafficRouting.plugins);
    assert.deepEqual((await validateRender(r, repoRoot)).problems, []);
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

  test('Flagger (optional): a Canary per canary service, consistent with the render it replaces the Rollouts in', async () => {
    const r = await flaggerVariant();
    const of = (kind: string) => r.items.filter((i) => i.resource.kind === kind).map((i) => i.resource);
    assert.deepEqual(
      of('Rollout').map((x) => x.metadata.name),
      ['user-service'],
    );
    const canaries = of('Canary');
    assert.deepEqual(canaries.map((c) => c.metadata.name).sort(), [
      'api-gateway',
      'order-service',
      'product-service',
    ]);
    const templates = new Set(of('MetricTemplate').map((m) => m.metadata.name));
    assert.deepEqual([...templates].sort(), ['http-latency-p99', 'http-success-rate']);
    // Flagger makes <name>, -primary, -canary and the edge HTTPRoute: none of those is shipped.
    const services = new Set(of('Service').map((s) => s.metadata.name));
    assert.ok(!of('HTTPRoute').some((h) => h.metadata.name === 'api-gateway'));
    for (const c of canaries) {
      const name = c.metadata.name;
      for (const s of [name, `${name}-primary`, `${name}-canary`]) assert.ok(!services.has(s), s);
      assert.ok(byId(r.items, 'Deployment', c.spec.targetRef.name), name);
      const hpa = byId(r.items, 'HorizontalPodAutoscaler', c.spec.autoscalerRef.name).resource;
      // Flagger scales the primary through a copy of this HPA: it must target the Deployment.
      assert.deepEqual([hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name], ['Deployment', name]);
      const names = c.spec.analysis.metrics.map((m: { templateRef: { name: string } }) => m.templateRef.name);
      for (const t of names) assert.ok(templates.has(t), `${name}: ${t}`);
      assert.deepEqual(c.spec.analysis.stepWeights, [10, 50]);
      assert.ok(
        c.spec.analysis.webhooks.some(
          (w: { name: string; type: string }) => w.name === 'load-test' && w.type === 'rollout',
        ),
      );
    }
    const edge = canaries.find((c) => c.metadata.name === 'api-gateway');
    assert.equal(edge?.spec.provider, 'gatewayapi:v1');
    assert.deepEqual(edge?.spec.service.gatewayRefs, [{ name: 'mdp', sectionName: 'https' }]);
    assert.ok(
      byId(r.items, 'Gateway', 'mdp').resource.spec.listeners.some(
        (l: { name: string }) => l.name === 'https',
      ),
    );
    assert.deepEqual(
      edge?.spec.service.hosts,
      byId(r.items, 'Certificate', 'api-gateway-tls').resource.spec.dnsNames,
    );
    assert.deepEqual(
      edge?.spec.service.match.map((m: { uri: { prefix: string } }) => m.uri.prefix),
      ['/api', '/docs'],
    );
  });

  test('Argo CD sync waves: the migrations run before every Rollout (and the Deployment it releases)', async () => {
    const wave = (i: { resource: { metadata: { annotations?: Record<string, string> } } }) =>
      Number(i.resource.metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0);
    for (const env of ['dev', 'staging', 'production']) {
      const r = await rendered(`deploy/overlays/${env}`);
      const rollouts = r.items.filter((i) => i.resource.kind === 'Rollout');
      const released = r.items.filter(
        (i) =>
          i.resource.kind === 'Deployment' &&
          rollouts.some((ro) => ro.resource.spec.workloadRef?.name === i.resource.metadata.name),
      );
      const migrations = r.items.filter(
        (i) => i.resource.kind === 'Job' && i.resource.metadata.name.endsWith('-migrate'),
      );
      assert.equal(rollouts.length, 5, env);
      assert.equal(released.length, 5, env);
      assert.deepEqual(
        migrations.map((m) => m.resource.metadata.name).sort(),
        [
          // Production's Flagsmith migrates its own database the same way.
          ...(env === 'production' ? ['flagsmith-migrate'] : []),
          'notification-service-migrate',
          'order-service-migrate',
          'user-service-migrate',
        ],
        env,
      );
      const firstRelease = Math.min(...[...rollouts, ...released].map(wave));
      for (const m of migrations) {
        const a = m.resource.metadata.annotations ?? {};
        // A Sync hook takes part in the waves: Argo CD waits for it to succeed before the next wave.
        assert.equal(a['argocd.argoproj.io/hook'], 'Sync', m.resource.metadata.name);
        assert.ok(
          wave(m) < firstRelease,
          `${env}: ${m.resource.metadata.name} wave ${wave(m)} < ${firstRelease}`,
        );
      }
      // The AnalysisTemplates the Rollouts run are there no later than the Rollouts.
      for (const t of r.items.filter((i) => i.resource.kind === 'AnalysisTemplate'))
        assert.ok(wave(t) <= firstRelease, t.resource.metadata.name);
    }
  });

  test('Argo CD: the project allows every kind and namespace the applications render', async () => {
    const argocd = await rendered('deploy/argocd');
    const project = byId(argocd.items, 'AppProject', 'mdp').resource.spec;
    const key = (group: string, kind: string) => `${group}/${kind}`;
    const namespaced = new Set(
      project.namespaceResourceWhitelist.map((k: { group: string; kind: string }) => key(k.group, k.kind)),
    );
    const cluster = new Set(
      project.clusterResourceWhitelist.map((k: { group: string; kind: string }) => key(k.group, k.kind)),
    );
    const destinations = new Set(project.destinations.map((d: { namespace: string }) => d.namespace));
    const apps = argocd.items.filter((i) => i.resource.kind === 'Application');
    assert.equal(apps.length, 4);
    for (const app of apps) {
      const r = await rendered(app.resource.spec.source.path);
      for (const { resource } of r.items) {
        const group = resource.apiVersion.includes('/') ? resource.apiVersion.split('/')[0] : '';
        const clusterScoped = ['Namespace', 'ClusterIssuer'].includes(resource.kind);
        assert.ok(
          (clusterScoped ? cluster : namespaced).has(key(group ?? '', resource.kind)),
          `${app.resource.metadata.name}: ${resource.kind} (${group}) is not allowed by the AppProject`,
        );
        assert.ok(
          destinations.has(clusterScoped ? '' : (resource.metadata.namespace ?? '')),
          `${resource.kind}/${resource.metadata.name}`,
        );
      }
    }
  });

  test('Argo CD leaves the weights the Rollouts controller writes alone', async () => {
    const argocd = await rendered('deploy/argocd');
    for (const env of ['dev', 'staging', 'production']) {
      const app = byId(argocd.items, 'Application', `mdp-${env}`).resource.spec;
      assert.ok(app.syncPolicy.syncOptions.includes('RespectIgnoreDifferences=true'), env);
      assert.deepEqual(
        app.ignoreDifferences.map(
          (d: { kind: string; jqPathExpressions: string[] }) => `${d.kind} ${d.jqPathExpressions.join(',')}`,
        ),
        ['HTTPRoute .spec.rules[].backendRefs[].weight', 'VirtualService .spec.http[].route[].weight'],
        env,
      );
      // Every route the overlay's Rollouts shift is of a kind listed there.
      const r = await rendered(`deploy/overlays/${env}`);
      for (const ro of r.items.filter((i) => i.resource.kind === 'Rollout')) {
        const tr = ro.resource.spec.strategy.canary?.trafficRouting;
        if (tr?.plugins)
          assert.ok(app.ignoreDifferences.some((d: { kind: string }) => d.kind === 'HTTPRoute'));
        if (tr?.istio)
          assert.ok(app.ignoreDifferences.some((d: { kind: string }) => d.kind === 'VirtualService'));
      }
    }
  });

  test('the NetworkPolicies allow exactly the flows of the architecture', async () => {
    for (const target of ['deploy/overlays/dev', 'deploy/overlays/production']) {
      const r = await rendered(target);
      const flows = allowedFlows(r.items);
      const pods = new Set(flows.map((f) => f.split(' -> ')[0]));
      // Every pod of the namespace may resolve names, and nothing else is allowed to reach DNS.
      const dns = flows.filter((f) => f.includes('-> kube-dns:'));
      const outside = externalEndpoints().map((e) => e.name);
      const local = [...pods].filter((p) => !outside.includes(p ?? ''));
      assert.equal(dns.length, 2 * local.length);
      const expected = [
        // The edge Envoy (pods of the Gateway "mdp"): HTTPS and HTTP from anywhere, to api-gateway.
        ...outside.flatMap((o) => [`${o} -> mdp:443/TCP`, `${o} -> mdp:80/TCP`]),
        'mdp -> api-gateway:8080/TCP',
        // The mesh: every pod (sidecar) and the edge Envoy fetch configuration from istiod.
        ...local.map((p) => `${p} -> istiod:15012/TCP`),
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
              // (their HTTPS egress goes to any address, the edge's public port included)
              'postgresql -> mdp:443/TCP',
              'rabbitmq -> mdp:443/TCP',
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
          .filter((f) => f.includes('-> private-network'))
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
