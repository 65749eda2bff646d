import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatViolation, parseImage, RULES, type Rule, runRules } from '../src/policies.js';
import type { Located } from '../src/resources.js';
import { byId, context, copy, rendered } from './helpers.js';

// biome-ignore lint/suspicious/noConfusingVoidType: a mutation edits the objects in place or returns a new list
type Mutation = { name: string; apply(items: Located[]): Located[] | undefined | void; expect: RegExp };

const gw = (items: Located[]) => byId(items, 'Deployment', 'api-gateway').resource;
type Meta = { labels: Record<string, string>; annotations: Record<string, string> };
const meta = (items: Located[], kind: string, name: string) =>
  byId(items, kind, name).resource.metadata as unknown as Meta;
const gwContainer = (items: Located[]) => gw(items).spec.template.spec.containers[0];

/** For every rule: how to break it, and the message that must then appear. */
const BREAKERS: Record<string, Mutation[]> = {
  // What Pod Security "restricted" covers (privilege escalation, seccomp, capabilities dropped,
  // root, hostPath) is the API server's: test/server.test.ts breaks those.
  'pod-hardening': [
    {
      name: 'a writable root filesystem',
      apply: (i) => {
        delete gwContainer(i).securityContext.readOnlyRootFilesystem;
      },
      expect: /readOnlyRootFilesystem must be true/,
    },
    {
      name: 'a service-account token mounted',
      apply: (i) => {
        delete gw(i).spec.template.spec.automountServiceAccountToken;
      },
      expect: /automountServiceAccountToken must be false/,
    },
    {
      name: 'an added capability (restricted would allow NET_BIND_SERVICE)',
      apply: (i) => {
        gwContainer(i).securityContext.capabilities.add = ['NET_BIND_SERVICE'];
      },
      expect: /container api-gateway: capabilities.add is not allowed/,
    },
  ],
  'writable-tmp': [
    {
      name: 'no /tmp emptyDir',
      apply: (i) => {
        gwContainer(i).volumeMounts = gwContainer(i).volumeMounts.filter(
          (m: { mountPath: string }) => m.mountPath !== '/tmp',
        );
      },
      expect: /no emptyDir mounted at \/tmp/,
    },
  ],
  'resources-set': [
    {
      name: 'no memory limit',
      apply: (i) => {
        delete gwContainer(i).resources.limits.memory;
      },
      expect: /resources.limits.memory is not set/,
    },
    {
      name: 'an init container without requests',
      apply: (i) => {
        delete byId(i, 'StatefulSet', 'mongodb').resource.spec.template.spec.initContainers[0].resources;
      },
      expect: /container keyfile: resources.requests.cpu is not set/,
    },
  ],
  'contract-probes': [
    {
      name: 'readiness on the liveness path',
      apply: (i) => {
        gwContainer(i).readinessProbe.httpGet.path = '/healthz';
      },
      expect: /readinessProbe must be an HTTP GET of \/readyz on port http/,
    },
    {
      name: 'no startup probe',
      apply: (i) => {
        delete gwContainer(i).startupProbe;
      },
      expect: /startupProbe is missing/,
    },
    {
      name: 'the http port renamed',
      apply: (i) => {
        gwContainer(i).ports[0].name = 'web';
      },
      expect: /needs containerPort 8080 named http/,
    },
  ],
  'graceful-shutdown': [
    {
      name: 'a grace period shorter than the shutdown timeout',
      apply: (i) => {
        gw(i).spec.template.spec.terminationGracePeriodSeconds = 10;
      },
      expect: /terminationGracePeriodSeconds 10 must exceed/,
    },
    {
      name: 'no preStop wait',
      apply: (i) => {
        delete gwContainer(i).lifecycle;
      },
      expect: /preStop sleep 0s is shorter than 3000 ms/,
    },
  ],
  'image-tag-pinned': [
    {
      name: 'latest',
      apply: (i) => {
        gwContainer(i).image = 'ghcr.io/mdp-example/api-gateway:latest';
      },
      expect: /uses latest/,
    },
    {
      name: 'no tag',
      apply: (i) => {
        byId(i, 'StatefulSet', 'redis').resource.spec.template.spec.containers[0].image =
          'docker.io/library/redis';
      },
      expect: /has no tag/,
    },
  ],
  'image-registry': [
    {
      name: 'an overlay that forgot its images: entry',
      apply: (i) => {
        gwContainer(i).image = 'api-gateway';
      },
      expect: /neither under ghcr.io\/<owner>\/ nor a listed third-party image/,
    },
    {
      name: 'an image the build does not produce',
      apply: (i) => {
        gwContainer(i).image = 'ghcr.io/mdp-example/gateway:1.0.0';
      },
      expect: /names no service directory/,
    },
    {
      name: 'a tag outside the scheme',
      apply: (i) => {
        gwContainer(i).image = 'ghcr.io/mdp-example/api-gateway:v1.0';
      },
      expect: /tag outside the scheme/,
    },
    {
      name: 'no owner',
      apply: (i) => {
        gwContainer(i).image = 'ghcr.io/api-gateway:1.0.0';
      },
      expect: /must be ghcr.io\/<owner>\/<service>/,
    },
  ],
  'image-pull-secret': [
    {
      name: 'no imagePullSecrets',
      apply: (i) => {
        delete gw(i).spec.template.spec.imagePullSecrets;
      },
      expect: /imagePullSecrets does not name ghcr-pull-secret/,
    },
  ],
  'service-selects-pods': [
    {
      name: 'a selector with a typo',
      apply: (i) => {
        byId(i, 'Service', 'order-service').resource.spec.selector['app.kubernetes.io/name'] = 'orders';
      },
      expect: /matches no pod template/,
    },
    {
      name: 'a targetPort name that no container has',
      apply: (i) => {
        byId(i, 'Service', 'order-service').resource.spec.ports[0].targetPort = 'web';
      },
      expect: /targetPort web is not a container port name/,
    },
  ],
  'networkpolicy-selects-pods': [
    {
      name: 'a policy for a pod that does not exist',
      apply: (i) => {
        // (every overlay has redis-cache now: a name no pod template has)
        byId(i, 'NetworkPolicy', 'redis').resource.spec.podSelector.matchLabels['app.kubernetes.io/name'] =
          'redis-replica';
      },
      expect: /podSelector selects no pod template/,
    },
    {
      name: 'a peer that does not exist',
      apply: (i) => {
        byId(i, 'NetworkPolicy', 'user-service').resource.spec.ingress[0].from[0].podSelector.matchLabels[
          'app.kubernetes.io/name'
        ] = 'gateway';
      },
      expect: /peer .* selects no pod template/,
    },
  ],
  'config-references': [
    {
      name: 'an envFrom Secret that is neither rendered nor documented',
      apply: (i) => {
        gwContainer(i).envFrom[2].secretRef.name = 'gateway-secrets';
      },
      expect: /Secret gateway-secrets is neither rendered nor a documented external secret/,
    },
    {
      name: 'a ConfigMap that is not in the render',
      apply: (i) => {
        gw(i).spec.template.spec.volumes[1].configMap.name = 'flags';
      },
      expect: /ConfigMap flags is not in the render/,
    },
    {
      name: 'a secretKeyRef key the external secret does not document',
      apply: (i) => {
        byId(
          i,
          'StatefulSet',
          'redis',
        ).resource.spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.key = 'PASSWORD';
      },
      expect: /Secret redis-credentials is external but documents no key PASSWORD/,
    },
    {
      name: 'a Gateway TLS secret that no Certificate writes',
      apply: (i) => {
        byId(i, 'Certificate', 'api-gateway-tls').resource.spec.secretName = 'other-tls';
      },
      expect: /listener https tls: Secret api-gateway-tls is neither rendered/,
    },
  ],
  'stateful-pvc': [
    {
      name: 'a StatefulSet without claims',
      apply: (i) => {
        delete byId(i, 'StatefulSet', 'rabbitmq').resource.spec.volumeClaimTemplates;
      },
      expect: /has no volumeClaimTemplates/,
    },
    {
      name: 'a claim that no container mounts',
      apply: (i) => {
        byId(i, 'StatefulSet', 'rabbitmq').resource.spec.volumeClaimTemplates[0].metadata.name = 'other';
      },
      expect: /volumeClaimTemplate other is not mounted/,
    },
    {
      name: 'a database as a Deployment',
      apply: (i) => {
        const sts = byId(i, 'StatefulSet', 'redis');
        sts.resource.kind = 'Deployment';
        delete sts.resource.spec.volumeClaimTemplates;
        return i;
      },
      expect: /a cache must be a StatefulSet, not a Deployment/,
    },
  ],
  'contract-labels': [
    {
      name: 'a pod template without a version label',
      apply: (i) => {
        delete gw(i).spec.template.metadata.labels['app.kubernetes.io/version'];
      },
      expect: /pod template lacks label app.kubernetes.io\/version/,
    },
    {
      name: 'a component outside the contract',
      apply: (i) => {
        (gw(i).metadata as unknown as Meta).labels['app.kubernetes.io/component'] = 'frontend';
      },
      expect: /component frontend is not one of/,
    },
    {
      name: 'an object without part-of',
      apply: (i) => {
        delete meta(i, 'Service', 'redis').labels['app.kubernetes.io/part-of'];
      },
      expect: /lacks label app.kubernetes.io\/part-of=mdp/,
    },
  ],
  'namespace-psa': [
    {
      name: 'a namespace that only warns',
      apply: (i) => {
        meta(i, 'Namespace', 'mdp-dev').labels['pod-security.kubernetes.io/enforce'] = 'baseline';
      },
      expect: /enforce must be restricted/,
    },
    {
      name: 'no Namespace in the render',
      apply: (i) => i.filter((x) => x.resource.kind !== 'Namespace'),
      expect: /namespace mdp-dev is not part of the render/,
    },
  ],
  'podmonitor-contract': [
    {
      name: 'no relabeling into version',
      apply: (i) =>
        void byId(i, 'PodMonitor', 'user-service').resource.spec.podMetricsEndpoints[0].relabelings.splice(
          1,
          1,
        ),
      expect: /no relabeling of __meta_kubernetes_pod_label_app_kubernetes_io_version into version/,
    },
    {
      name: 'a Deployment nobody scrapes',
      apply: (i) =>
        i.filter((x) => !(x.resource.kind === 'PodMonitor' && x.resource.metadata.name === 'order-service')),
      expect: /no PodMonitor scrapes this workload/,
    },
    {
      name: 'scraping another port',
      apply: (i) => {
        byId(i, 'PodMonitor', 'user-service').resource.spec.podMetricsEndpoints[0].port = 'metrics';
      },
      expect: /endpoint must scrape \/metrics on port http/,
    },
  ],
  'autoscaling-consistent': [
    {
      name: 'a Rollout that sets replicas under an HPA',
      apply: (i) => {
        byId(i, 'Rollout', 'api-gateway').resource.spec.replicas = 2;
      },
      expect: /sets replicas, which fights the autoscaler/,
    },
    {
      name: 'an HPA for a missing Rollout',
      apply: (i) => {
        byId(i, 'HorizontalPodAutoscaler', 'user-service').resource.spec.scaleTargetRef.name = 'users';
      },
      expect: /scaleTargetRef Rollout\/users is not in the render/,
    },
    {
      name: 'a PDB that selects nothing',
      apply: (i) => {
        byId(i, 'PodDisruptionBudget', 'user-service').resource.spec.selector.matchLabels[
          'app.kubernetes.io/name'
        ] = 'x';
      },
      expect: /selector matches no pod template/,
    },
  ],
  'sync-waves': [
    {
      name: 'a migration in the services wave',
      apply: (i) => {
        meta(i, 'Job', 'order-service-migrate').annotations['argocd.argoproj.io/sync-wave'] = '0';
      },
      expect: /wave 0 must come before the services/,
    },
    {
      name: 'a migration before the databases',
      apply: (i) => {
        meta(i, 'Job', 'order-service-migrate').annotations['argocd.argoproj.io/sync-wave'] = '-5';
      },
      expect: /wave -5 must come after the datastores/,
    },
    {
      name: 'a Job that is not a hook',
      apply: (i) => {
        delete meta(i, 'Job', 'user-service-migrate').annotations['argocd.argoproj.io/hook'];
      },
      expect: /must be an Argo CD Sync hook/,
    },
    {
      name: 'the Namespace after the datastores it holds',
      apply: (i) => {
        delete meta(i, 'Namespace', 'mdp-dev').annotations['argocd.argoproj.io/sync-wave'];
      },
      expect: /wave 0 comes after objects it holds \(wave -5\)/,
    },
    {
      name: 'a migration whose ServiceAccount comes with the services',
      apply: (i) => {
        delete meta(i, 'ServiceAccount', 'order-service').annotations['argocd.argoproj.io/sync-wave'];
      },
      expect: /wave -2: its ServiceAccount order-service comes in wave 0, not before/,
    },
    {
      name: 'an AnalysisTemplate applied with the Rollouts that run it',
      apply: (i) => {
        delete meta(i, 'AnalysisTemplate', 'http-success-rate').annotations['argocd.argoproj.io/sync-wave'];
      },
      expect: /wave 0: the AnalysisTemplate http-success-rate it references comes in wave 0, not before/,
    },
  ],
  'service-env-contract': [
    {
      name: 'a misspelled setting in a ConfigMap',
      apply: (i) => {
        const cm = i.find(
          (x) => x.resource.kind === 'ConfigMap' && x.resource.metadata.name.startsWith('mdp-common-config'),
        );
        if (!cm) throw new Error('no common config');
        cm.resource.data.SHUTDOWN_TIMOUT_MS = '10000';
      },
      expect: /container api-gateway: SHUTDOWN_TIMOUT_MS is not a setting of api-gateway/,
    },
    {
      name: 'a required setting that nothing provides',
      apply: (i) => {
        gwContainer(i).envFrom = gwContainer(i).envFrom.filter((e: { secretRef?: unknown }) => !e.secretRef);
      },
      expect: /container api-gateway: required setting REDIS_URL is not provided/,
    },
  ],
  'rollout-consistent': [
    {
      name: 'a service Deployment no Rollout releases',
      apply: (i) =>
        i.filter((x) => !(x.resource.kind === 'Rollout' && x.resource.metadata.name === 'order-service')),
      expect: /is referenced by 0 Rollouts \(workloadRef\), want 1/,
    },
    {
      name: 'a released Deployment that sets replicas',
      apply: (i) => {
        gw(i).spec.replicas = 3;
      },
      expect: /sets replicas although a Rollout releases it/,
    },
    {
      name: 'a workloadRef that never scales the Deployment down',
      apply: (i) => {
        byId(i, 'Rollout', 'user-service').resource.spec.workloadRef.scaleDown = 'never';
      },
      expect: /scaleDown must be progressively or onsuccess/,
    },
    {
      name: 'a canary Service that selects other pods',
      apply: (i) => {
        byId(i, 'Service', 'order-service-canary').resource.spec.selector['app.kubernetes.io/name'] =
          'product-service';
      },
      expect: /canaryService order-service-canary does not select the Rollout's pods/,
    },
    {
      name: 'a missing preview Service',
      apply: (i) =>
        i.filter(
          (x) => !(x.resource.kind === 'Service' && x.resource.metadata.name === 'user-service-preview'),
        ),
      expect: /previewService user-service-preview is not in the render/,
    },
    {
      name: 'an analysis template that is not rendered',
      apply: (i) => {
        byId(
          i,
          'Rollout',
          'product-service',
        ).resource.spec.strategy.canary.analysis.templates[0].templateName = 'success';
      },
      expect: /canary.analysis: AnalysisTemplate success is not in the render/,
    },
    {
      name: 'an analysis argument nobody passes',
      apply: (i) => {
        const a = byId(i, 'Rollout', 'order-service').resource.spec.strategy.canary.analysis;
        a.args = a.args.filter((x: { name: string }) => x.name !== 'stable-hash');
      },
      expect: /http-success-rate needs argument stable-hash/,
    },
    {
      name: 'a Gateway API plugin route that is not rendered',
      apply: (i) => {
        byId(i, 'Rollout', 'api-gateway').resource.spec.strategy.canary.trafficRouting.plugins[
          'argoproj-labs/gatewayAPI'
        ].httpRoutes[0].name = 'edge';
      },
      expect: /argoproj-labs\/gatewayAPI: HTTPRoute edge is not in the render/,
    },
    {
      name: 'an HTTPRoute without the canary backend',
      apply: (i) => {
        const rule = byId(i, 'HTTPRoute', 'api-gateway').resource.spec.rules[0];
        rule.backendRefs = rule.backendRefs.slice(0, 1);
      },
      expect: /HTTPRoute api-gateway has no backendRef api-gateway-canary/,
    },
    {
      name: 'a plugin the controller does not know',
      apply: (i) => {
        const tr = byId(i, 'Rollout', 'api-gateway').resource.spec.strategy.canary.trafficRouting;
        tr.plugins = { 'example/other': {} };
      },
      expect: /plugin example\/other is not registered/,
    },
    {
      name: 'a VirtualService route that does not send to the stable Service',
      apply: (i) => {
        byId(i, 'VirtualService', 'order-service').resource.spec.http[0].route[0].destination.host =
          'order-service';
      },
      expect: /VirtualService order-service route primary has no destination order-service-stable/,
    },
    {
      name: 'a VirtualService route name the Rollout names but the service lacks',
      apply: (i) => {
        byId(i, 'VirtualService', 'product-service').resource.spec.http[0].name = 'main';
      },
      expect: /VirtualService product-service has no http route primary/,
    },
    {
      name: 'an HPA that scales the referenced Deployment',
      apply: (i) => {
        const ref = byId(i, 'HorizontalPodAutoscaler', 'user-service').resource.spec.scaleTargetRef;
        ref.apiVersion = 'apps/v1';
        ref.kind = 'Deployment';
      },
      expect: /scales Deployment\/user-service, which a Rollout releases: target the Rollout/,
    },
  ],
  'edge-routes': [
    {
      name: 'an Ingress',
      apply: (i) => [
        ...i,
        {
          ...i[0],
          resource: {
            apiVersion: 'networking.k8s.io/v1',
            kind: 'Ingress',
            metadata: { name: 'legacy', namespace: 'mdp-dev' },
            spec: {},
          },
        } as Located,
      ],
      expect: /an Ingress: the edge is the Gateway API/,
    },
    {
      name: 'the gateway’s /metrics routed from outside',
      apply: (i) => {
        byId(i, 'HTTPRoute', 'api-gateway').resource.spec.rules[0].matches.push({
          path: { type: 'PathPrefix', value: '/metrics' },
        });
      },
      expect: /routes PathPrefix \/metrics to a backend/,
    },
    {
      name: 'a catch-all rule',
      apply: (i) => {
        delete byId(i, 'HTTPRoute', 'api-gateway').resource.spec.rules[0].matches;
      },
      expect: /routes PathPrefix \/ to a backend/,
    },
    {
      name: 'a backend on the plain-HTTP listener',
      apply: (i) => {
        byId(i, 'HTTPRoute', 'api-gateway').resource.spec.parentRefs[0].sectionName = 'http';
      },
      expect: /listener http is plain HTTP: it may only redirect/,
    },
    {
      name: 'a listener the Gateway does not have',
      apply: (i) => {
        byId(i, 'HTTPRoute', 'https-redirect').resource.spec.parentRefs[0].sectionName = 'plain';
      },
      expect: /Gateway mdp has no listener plain/,
    },
    {
      name: 'a host the certificate does not cover',
      apply: (i) => {
        byId(i, 'HTTPRoute', 'api-gateway').resource.spec.hostnames = ['other.example.com'];
      },
      expect: /host other.example.com is not among the dnsNames of Certificate api-gateway-tls/,
    },
    {
      name: 'a backend port the Service lacks',
      apply: (i) => {
        byId(i, 'HTTPRoute', 'api-gateway').resource.spec.rules[0].backendRefs[0].port = 8080;
      },
      expect: /backendRef: Service api-gateway-stable has no port 8080/,
    },
    {
      name: 'a VirtualService for a Service that is not rendered',
      apply: (i) => {
        byId(i, 'VirtualService', 'order-service').resource.spec.hosts = ['orders'];
      },
      expect: /host orders is not a rendered Service/,
    },
  ],
  'mongodb-replica-count': [
    {
      name: 'a StatefulSet scaled without the init Job knowing',
      apply: (i) => {
        byId(i, 'StatefulSet', 'mongodb').resource.spec.replicas = 3;
      },
      expect: /replicas 3 but mongodb-config says MONGODB_REPLICAS=1/,
    },
  ],
};

describe('policies', () => {
  test('every rule has a name, a description and breaking tests', () => {
    assert.ok(RULES.length >= 15);
    assert.equal(new Set(RULES.map((r) => r.name)).size, RULES.length);
    for (const rule of RULES) {
      assert.ok(rule.description.length > 20, rule.name);
      assert.ok((BREAKERS[rule.name] ?? []).length > 0, `no failing test for ${rule.name}`);
    }
  });

  for (const rule of RULES) {
    describe(rule.name, () => {
      for (const target of ['deploy/overlays/dev', 'deploy/overlays/production']) {
        test(`passes on ${target}`, async () => {
          const r = await rendered(target);
          assert.deepEqual(runRules(context(r.items), [rule]), []);
        });
      }
      for (const m of BREAKERS[rule.name] ?? []) {
        test(`fails on ${m.name}`, async () => {
          const base = copy((await rendered('deploy/overlays/dev')).items);
          const items = m.apply(base) ?? base;
          const violations = runRules(context(items), [rule as Rule]);
          assert.ok(violations.length > 0, 'no violation');
          assert.ok(
            violations.some((v) => m.expect.test(v.message)),
            violations.map((v) => v.message).join('\n'),
          );
          for (const v of violations) assert.equal(v.rule, rule.name);
        });
      }
    });
  }

  test('deploy/cluster (tracing, log shipping) passes every rule; its privileged namespace only as the log shipper', async () => {
    const r = await rendered('deploy/cluster');
    assert.deepEqual(runRules(context(r.items)), []);
    const psa = RULES.find((x) => x.name === 'namespace-psa') as Rule;
    const writable = copy(r.items);
    const ds = byId(writable, 'DaemonSet', 'fluent-bit').resource.spec.template.spec;
    ds.containers[0].volumeMounts.find((m: { name: string }) => m.name === 'varlog').readOnly = false;
    assert.match(
      runRules(context(writable), [psa])
        .map((v) => v.message)
        .join('\n'),
      /hostPath \/var\/log must be mounted read-only/,
    );
    const deployment = copy(r.items);
    byId(deployment, 'Deployment', 'jaeger').resource.metadata.namespace = 'logging';
    assert.match(
      runRules(context(deployment), [psa])
        .map((v) => v.message)
        .join('\n'),
      /Deployment\/jaeger: only DaemonSets may run privileged/,
    );
  });

  test('a violation prints the file, the resource and the rule, one line each', async () => {
    const items = copy((await rendered('deploy/overlays/dev')).items);
    gwContainer(items).image = 'ghcr.io/mdp-example/api-gateway:latest';
    const [v] = runRules(context(items)).filter((x) => x.rule === 'image-tag-pinned');
    assert.ok(v);
    assert.deepEqual(formatViolation(v).split('\n'), [
      'file: deploy/base/api-gateway/deployment.yaml',
      'resource: Deployment/mdp-dev/api-gateway (deploy/overlays/dev)',
      'rule: image-tag-pinned: container api-gateway: image ghcr.io/mdp-example/api-gateway:latest uses latest',
    ]);
  });

  test('parseImage tells tags from registry ports and digests', () => {
    assert.deepEqual(parseImage('localhost:5000/a/b'), {
      repository: 'localhost:5000/a/b',
      digest: undefined,
    });
    assert.deepEqual(parseImage('ghcr.io/o/s:1.2.3'), {
      repository: 'ghcr.io/o/s',
      tag: '1.2.3',
      digest: undefined,
    });
    assert.equal(parseImage('ghcr.io/o/s@sha256:abc').digest, 'sha256:abc');
  });
});
