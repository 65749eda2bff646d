/**
 * Policies as code: each rule is named, checks the rendered objects of one render target
 * (an overlay, the Argo CD project, the cluster issuers) and reports violations that name
 * the source file, the resource and the rule.
 */
import { type Located, operatorPods, podTemplate, type Resource, resourceId } from './resources.js';

export interface Violation {
  rule: string;
  file: string;
  resource: string;
  message: string;
}

export interface ExternalSecret {
  keys: string[];
  type?: string;
  createdBy?: string;
}

export interface PolicyContext {
  items: Located[];
  /** Directory names under services/ (the images the build produces). */
  serviceDirs: string[];
  /** Secrets documented in deploy/external-secrets.json. */
  externalSecrets: Record<string, ExternalSecret>;
  /** Per service directory: the settings its config schema knows, and those without a default. */
  serviceEnv: Record<string, ServiceEnv>;
}

export interface ServiceEnv {
  known: string[];
  required: string[];
}

export interface Rule {
  name: string;
  description: string;
  check(ctx: PolicyContext): Violation[];
}

// ---- helpers --------------------------------------------------------------------------------

// biome-ignore lint/suspicious/noExplicitAny: rendered objects are free-form
type Any = any;

export const CONTRACT_REGISTRY = 'ghcr.io';
export const PULL_SECRET = 'ghcr-pull-secret';
/** Images that are not built here: the datastores and the job tooling, by repository. */
export const THIRD_PARTY_IMAGES = [
  'docker.io/library/postgres',
  'docker.io/library/mongo',
  'docker.io/library/redis',
  'docker.io/library/rabbitmq',
  'docker.io/curlimages/curl',
];
export const COMPONENTS = ['api', 'worker', 'database', 'cache', 'broker'];
const TAG_SCHEME = /^(\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?|sha-[0-9a-f]{7}|dev|staging|stable)$/;

function violation(rule: string, item: Located, message: string): Violation {
  return { rule, file: item.file, resource: `${resourceId(item.resource)} (${item.target})`, message };
}

interface Container {
  name: string;
  init: boolean;
  spec: Any;
}

function containersOf(podSpec: Any): Container[] {
  const init = (podSpec?.initContainers ?? []).map((c: Any) => ({ name: c.name, init: true, spec: c }));
  const main = (podSpec?.containers ?? []).map((c: Any) => ({ name: c.name, init: false, spec: c }));
  return [...init, ...main];
}

interface Workload {
  item: Located;
  template: { metadata?: Any; spec?: Any };
}

function workloads(ctx: PolicyContext): Workload[] {
  const out: Workload[] = [];
  for (const item of ctx.items) {
    const template = podTemplate(item.resource);
    if (template) out.push({ item, template });
  }
  return out;
}

/** Splits an image reference into repository, tag and digest. */
export function parseImage(image: string): { repository: string; tag?: string; digest?: string } {
  let rest = image;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) return { repository: rest.slice(0, colon), tag: rest.slice(colon + 1), digest };
  return { repository: rest, digest };
}

function isAppImage(image: string): boolean {
  return image.startsWith(`${CONTRACT_REGISTRY}/`);
}

export function selectorMatches(selector: Any, labels: Record<string, string> | undefined): boolean {
  if (!selector) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(l, e.key);
    const val = l[e.key];
    switch (e.operator) {
      case 'In':
        if (!has || !(e.values ?? []).includes(val)) return false;
        break;
      case 'NotIn':
        if (has && (e.values ?? []).includes(val)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** Labels of every pod the render leads to: workload templates, and pods operators create. */
function podLabels(ctx: PolicyContext): Record<string, string>[] {
  return [
    ...workloads(ctx).map((w) => w.template.metadata?.labels ?? {}),
    ...ctx.items.flatMap((i) => {
      const made = operatorPods(i.resource);
      return made ? [made.labels] : [];
    }),
  ];
}

function find(ctx: PolicyContext, kind: string, name: string): Located | undefined {
  return ctx.items.find((i) => i.resource.kind === kind && i.resource.metadata?.name === name);
}

function commonSetting(ctx: PolicyContext, key: string): number | undefined {
  const cm = ctx.items.find(
    (i) =>
      i.resource.kind === 'ConfigMap' && /^mdp-common-config(-[a-z0-9]+)?$/.test(i.resource.metadata.name),
  );
  const raw = cm?.resource.data?.[key];
  return raw === undefined ? undefined : Number(raw);
}

function isLongRunning(r: Resource): boolean {
  return ['Deployment', 'StatefulSet', 'DaemonSet', 'Rollout'].includes(r.kind);
}

// ---- rules ----------------------------------------------------------------------------------

const podHardening: Rule = {
  name: 'pod-hardening',
  description:
    'Pods run as non-root with seccomp RuntimeDefault, no host namespaces or hostPath volumes and no service-account token; every container has a read-only root filesystem, no privilege escalation, all capabilities dropped, and is not privileged.',
  check(ctx) {
    const out: Violation[] = [];
    for (const { item, template } of workloads(ctx)) {
      const pod = template.spec ?? {};
      const psc = pod.securityContext ?? {};
      const v = (m: string) => out.push(violation(this.name, item, m));
      if (pod.automountServiceAccountToken !== false) v('automountServiceAccountToken must be false');
      if (pod.hostNetwork || pod.hostPID || pod.hostIPC) v('host namespaces are not allowed');
      for (const vol of pod.volumes ?? []) if (vol.hostPath) v(`volume ${vol.name}: hostPath is not allowed`);
      for (const c of containersOf(pod)) {
        const sc = c.spec.securityContext ?? {};
        const where = `${c.init ? 'init container' : 'container'} ${c.name}`;
        if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) v(`${where}: runAsNonRoot must be true`);
        if ((sc.runAsUser ?? psc.runAsUser) === 0) v(`${where}: runAsUser must not be 0`);
        const seccomp = sc.seccompProfile?.type ?? psc.seccompProfile?.type;
        if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost')
          v(`${where}: seccompProfile must be RuntimeDefault`);
        if (sc.allowPrivilegeEscalation !== false) v(`${where}: allowPrivilegeEscalation must be false`);
        if (sc.readOnlyRootFilesystem !== true) v(`${where}: readOnlyRootFilesystem must be true`);
        if (sc.privileged === true) v(`${where}: privileged is not allowed`);
        if (!(sc.capabilities?.drop ?? []).includes('ALL')) v(`${where}: capabilities.drop must include ALL`);
        if ((sc.capabilities?.add ?? []).length > 0) v(`${where}: capabilities.add is not allowed`);
      }
    }
    return out;
  },
};

const appTmp: Rule = {
  name: 'writable-tmp',
  description:
    'Every container of the platform image mounts an emptyDir at /tmp (the root filesystem is read-only).',
  check(ctx) {
    const out: Violation[] = [];
    for (const { item, template } of workloads(ctx)) {
      const emptyDirs = new Set(
        (template.spec?.volumes ?? []).filter((vol: Any) => vol.emptyDir).map((vol: Any) => vol.name),
      );
      for (const c of containersOf(template.spec)) {
        if (!isAppImage(c.spec.image ?? '')) continue;
        const ok = (c.spec.volumeMounts ?? []).some(
          (m: Any) => m.mountPath === '/tmp' && emptyDirs.has(m.name),
        );
        if (!ok) out.push(violation(this.name, item, `container ${c.name}: no emptyDir mounted at /tmp`));
      }
    }
    return out;
  },
};

const resourcesSet: Rule = {
  name: 'resources-set',
  description: 'Every container (init containers too) requests CPU and memory and has CPU and memory limits.',
  check(ctx) {
    const out: Violation[] = [];
    for (const { item, template } of workloads(ctx)) {
      for (const c of containersOf(template.spec)) {
        const r = c.spec.resources ?? {};
        for (const kind of ['requests', 'limits'])
          for (const res of ['cpu', 'memory'])
            if (r[kind]?.[res] === undefined)
              out.push(
                violation(this.name, item, `container ${c.name}: resources.${kind}.${res} is not set`),
              );
      }
    }
    return out;
  },
};

const probes: Rule = {
  name: 'contract-probes',
  description:
    'Long-running containers have startup, liveness and readiness probes; platform containers listen on 8080 named http and probe /healthz (startup, liveness) and /readyz (readiness) on it.',
  check(ctx) {
    const out: Violation[] = [];
    for (const { item, template } of workloads(ctx)) {
      if (!isLongRunning(item.resource)) continue;
      for (const c of containersOf(template.spec)) {
        if (c.init) continue;
        const v = (m: string) => out.push(violation(this.name, item, `container ${c.name}: ${m}`));
        const s = c.spec;
        for (const p of ['startupProbe', 'livenessProbe', 'readinessProbe']) if (!s[p]) v(`${p} is missing`);
        if (!isAppImage(s.image ?? '')) continue;
        const http = (s.ports ?? []).find((p: Any) => p.name === 'http');
        if (http?.containerPort !== 8080) v('needs containerPort 8080 named http');
        const expect: [string, string][] = [
          ['startupProbe', '/healthz'],
          ['livenessProbe', '/healthz'],
          ['readinessProbe', '/readyz'],
        ];
        for (const [p, path] of expect) {
          const get = s[p]?.httpGet;
          if (s[p] && (get?.path !== path || (get?.port !== 'http' && get?.port !== 8080)))
            v(`${p} must be an HTTP GET of ${path} on port http`);
        }
      }
    }
    return out;
  },
};

const gracefulShutdown: Rule = {
  name: 'graceful-shutdown',
  description:
    'Platform containers wait in preStop at least SHUTDOWN_DRAIN_MS, and terminationGracePeriodSeconds exceeds that wait plus SHUTDOWN_TIMEOUT_MS.',
  check(ctx) {
    const out: Violation[] = [];
    const drain = commonSetting(ctx, 'SHUTDOWN_DRAIN_MS') ?? 3000;
    const timeout = commonSetting(ctx, 'SHUTDOWN_TIMEOUT_MS') ?? 10000;
    for (const { item, template } of workloads(ctx)) {
      if (!isLongRunning(item.resource)) continue;
      for (const c of containersOf(template.spec)) {
        if (c.init || !isAppImage(c.spec.image ?? '')) continue;
        const wait = Number(c.spec.lifecycle?.preStop?.sleep?.seconds ?? 0);
        if (wait * 1000 < drain)
          out.push(
            violation(
              this.name,
              item,
              `container ${c.name}: preStop sleep ${wait}s is shorter than ${drain} ms`,
            ),
          );
        const grace = Number(template.spec?.terminationGracePeriodSeconds ?? 30);
        if (grace * 1000 <= wait * 1000 + timeout)
          out.push(
            violation(
              this.name,
              item,
              `terminationGracePeriodSeconds ${grace} must exceed preStop ${wait}s + SHUTDOWN_TIMEOUT_MS ${timeout} ms`,
            ),
          );
      }
    }
    return out;
  },
};

const imageTags: Rule = {
  name: 'image-tag-pinned',
  description: 'Every image names a tag or digest, never `latest`.',
  check(ctx) {
    const out: Violation[] = [];
    for (const { item, template } of workloads(ctx)) {
      for (const c of containersOf(template.spec)) {
        const { tag, digest } = parseImage(c.spec.image ?? '');
        if (!tag && !digest)
          out.push(violation(this.name, item, `container ${c.name}: image ${c.spec.image} has no tag`));
        if (tag === 'latest')
          out.push(violation(this.name, item, `container ${c.name}: image ${c.spec.image} uses latest`));
      }
    }
    return out;
  },
};

const imageRegistry: Rule = {
  name: 'image-registry',
  description:
    'Platform images are ghcr.io/<owner>/<a directory of services/>:<semver | sha-<7 hex> | dev | staging | stable> (exactly what scripts/build-images.sh produces); any other image is one of the listed third-party datastore images.',
  check(ctx) {
    const out: Violation[] = [];
    for (const { item, template } of workloads(ctx)) {
      for (const c of containersOf(template.spec)) {
        const image: string = c.spec.image ?? '';
        const { repository, tag } = parseImage(image);
        const v = (m: string) =>
          out.push(violation(this.name, item, `container ${c.name}: image ${image} ${m}`));
        if (repository.startsWith(`${CONTRACT_REGISTRY}/`)) {
          const parts = repository.split('/');
          if (parts.length !== 3 || !parts[1]) v('must be ghcr.io/<owner>/<service>');
          else if (!ctx.serviceDirs.includes(parts[2] ?? ''))
            v(`names no service directory (${ctx.serviceDirs.join(', ')})`);
          if (!tag || !TAG_SCHEME.test(tag))
            v('has a tag outside the scheme semver | sha-<7 hex> | dev | staging | stable');
        } else if (!THIRD_PARTY_IMAGES.includes(repository)) {
          v(`is neither under ${CONTRACT_REGISTRY}/<owner>/ nor a listed third-party image`);
        }
      }
    }
    return out;
  },
};

const pullSecret: Rule = {
  name: 'image-pull-secret',
  description: `Every pod names the GHCR pull secret (${PULL_SECRET}) in imagePullSecrets.`,
  check(ctx) {
    return workloads(ctx)
      .filter(
        ({ template }) => !(template.spec?.imagePullSecrets ?? []).some((s: Any) => s.name === PULL_SECRET),
      )
      .map(({ item }) => violation(this.name, item, `imagePullSecrets does not name ${PULL_SECRET}`));
  },
};

const serviceSelects: Rule = {
  name: 'service-selects-pods',
  description: 'Every Service selects the pods of some workload, and each named targetPort exists on them.',
  check(ctx) {
    const out: Violation[] = [];
    const ws = workloads(ctx);
    for (const item of ctx.items) {
      if (item.resource.kind !== 'Service' || item.resource.spec?.type === 'ExternalName') continue;
      const selector = item.resource.spec?.selector;
      if (!selector || Object.keys(selector).length === 0) {
        out.push(violation(this.name, item, 'has no selector'));
        continue;
      }
      const matched = ws.filter((w) =>
        selectorMatches({ matchLabels: selector }, w.template.metadata?.labels),
      );
      if (matched.length === 0) {
        out.push(violation(this.name, item, `selector ${JSON.stringify(selector)} matches no pod template`));
        continue;
      }
      for (const port of item.resource.spec?.ports ?? []) {
        if (typeof port.targetPort !== 'string') continue;
        const found = matched.some((w) =>
          containersOf(w.template.spec).some((c) =>
            (c.spec.ports ?? []).some((p: Any) => p.name === port.targetPort),
          ),
        );
        if (!found)
          out.push(violation(this.name, item, `targetPort ${port.targetPort} is not a container port name`));
      }
    }
    return out;
  },
};

const networkPolicySelects: Rule = {
  name: 'networkpolicy-selects-pods',
  description:
    'Every NetworkPolicy with a non-empty podSelector selects existing pods, and every in-namespace peer selector selects existing pods.',
  check(ctx) {
    const out: Violation[] = [];
    const labels = podLabels(ctx);
    const selectsSome = (sel: Any) => labels.some((l) => selectorMatches(sel, l));
    const isEmpty = (sel: Any) =>
      !sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0);
    for (const item of ctx.items) {
      if (item.resource.kind !== 'NetworkPolicy') continue;
      const spec = item.resource.spec ?? {};
      if (!isEmpty(spec.podSelector) && !selectsSome(spec.podSelector))
        out.push(violation(this.name, item, 'podSelector selects no pod template'));
      const peers = [
        ...(spec.ingress ?? []).flatMap((r: Any) => r.from ?? []),
        ...(spec.egress ?? []).flatMap((r: Any) => r.to ?? []),
      ];
      for (const peer of peers) {
        if (peer.namespaceSelector || peer.ipBlock || !peer.podSelector) continue;
        if (!isEmpty(peer.podSelector) && !selectsSome(peer.podSelector))
          out.push(
            violation(this.name, item, `peer ${JSON.stringify(peer.podSelector)} selects no pod template`),
          );
      }
    }
    return out;
  },
};

interface Ref {
  kind: 'ConfigMap' | 'Secret';
  name: string;
  key?: string;
  where: string;
}

function referencesOf(podSpec: Any): Ref[] {
  const refs: Ref[] = [];
  for (const s of podSpec?.imagePullSecrets ?? [])
    refs.push({ kind: 'Secret', name: s.name, where: 'imagePullSecrets' });
  for (const vol of podSpec?.volumes ?? []) {
    const where = `volume ${vol.name}`;
    const items = (x: Any) => (x.items ?? []).map((i: Any) => i.key) as string[];
    const add = (kind: Ref['kind'], name: string, keys: string[]) => {
      if (keys.length === 0) refs.push({ kind, name, where });
      for (const key of keys) refs.push({ kind, name, key, where });
    };
    if (vol.configMap) add('ConfigMap', vol.configMap.name, items(vol.configMap));
    if (vol.secret) add('Secret', vol.secret.secretName, items(vol.secret));
    for (const src of vol.projected?.sources ?? []) {
      if (src.configMap) add('ConfigMap', src.configMap.name, items(src.configMap));
      if (src.secret) add('Secret', src.secret.name, items(src.secret));
    }
  }
  for (const c of containersOf(podSpec)) {
    const where = `container ${c.name}`;
    for (const e of c.spec.envFrom ?? []) {
      if (e.configMapRef) refs.push({ kind: 'ConfigMap', name: e.configMapRef.name, where });
      if (e.secretRef) refs.push({ kind: 'Secret', name: e.secretRef.name, where });
    }
    for (const e of c.spec.env ?? []) {
      const cm = e.valueFrom?.configMapKeyRef;
      const sk = e.valueFrom?.secretKeyRef;
      if (cm) refs.push({ kind: 'ConfigMap', name: cm.name, key: cm.key, where: `${where} env ${e.name}` });
      if (sk) refs.push({ kind: 'Secret', name: sk.name, key: sk.key, where: `${where} env ${e.name}` });
    }
  }
  return refs;
}

const configReferences: Rule = {
  name: 'config-references',
  description:
    'Every ConfigMap and Secret a pod or Ingress references (and each key it names) exists in the render, is written by a cert-manager Certificate, or is a documented external secret (deploy/external-secrets.json).',
  check(ctx) {
    const out: Violation[] = [];
    const rendered = (kind: string, name: string) => find(ctx, kind, name);
    const certSecrets = new Set(
      ctx.items.filter((i) => i.resource.kind === 'Certificate').map((i) => i.resource.spec?.secretName),
    );
    const keysOf = (r: Resource): string[] => [
      ...Object.keys(r.data ?? {}),
      ...Object.keys(r.stringData ?? {}),
      ...Object.keys(r.binaryData ?? {}),
    ];
    const checkRef = (item: Located, ref: Ref) => {
      const v = (m: string) =>
        out.push(violation(this.name, item, `${ref.where}: ${ref.kind} ${ref.name} ${m}`));
      const local = rendered(ref.kind, ref.name);
      if (local) {
        if (ref.key !== undefined && !keysOf(local.resource).includes(ref.key)) v(`has no key ${ref.key}`);
        return;
      }
      if (ref.kind === 'Secret') {
        if (certSecrets.has(ref.name)) return;
        const ext = ctx.externalSecrets[ref.name];
        if (ext) {
          if (ref.key !== undefined && !ext.keys.includes(ref.key))
            v(`is external but documents no key ${ref.key}`);
          return;
        }
        v('is neither rendered nor a documented external secret');
        return;
      }
      v('is not in the render');
    };
    for (const { item, template } of workloads(ctx))
      for (const ref of referencesOf(template.spec)) checkRef(item, ref);
    for (const item of ctx.items) {
      if (item.resource.kind !== 'Ingress') continue;
      for (const tls of item.resource.spec?.tls ?? [])
        if (tls.secretName) checkRef(item, { kind: 'Secret', name: tls.secretName, where: 'tls' });
    }
    return out;
  },
};

const statefulStorage: Rule = {
  name: 'stateful-pvc',
  description:
    'Datastores (component database, cache or broker) run as StatefulSets, and every StatefulSet keeps its data on a volumeClaimTemplate that a container mounts, with a size set.',
  check(ctx) {
    const out: Violation[] = [];
    for (const item of ctx.items) {
      const r = item.resource;
      const component = r.metadata?.labels?.['app.kubernetes.io/component'] ?? '';
      if (
        ['Deployment', 'DaemonSet', 'Rollout'].includes(r.kind) &&
        ['database', 'cache', 'broker'].includes(component)
      )
        out.push(violation(this.name, item, `a ${component} must be a StatefulSet, not a ${r.kind}`));
      if (r.kind !== 'StatefulSet') continue;
      const claims: Any[] = r.spec?.volumeClaimTemplates ?? [];
      if (claims.length === 0) {
        out.push(violation(this.name, item, 'has no volumeClaimTemplates'));
        continue;
      }
      const mounted = new Set(
        containersOf(r.spec?.template?.spec).flatMap((c) =>
          (c.spec.volumeMounts ?? []).map((m: Any) => m.name),
        ),
      );
      for (const claim of claims) {
        const name = claim.metadata?.name;
        if (!mounted.has(name))
          out.push(violation(this.name, item, `volumeClaimTemplate ${name} is not mounted`));
        if (!claim.spec?.resources?.requests?.storage)
          out.push(violation(this.name, item, `volumeClaimTemplate ${name} has no storage size`));
      }
    }
    return out;
  },
};

const contractLabels: Rule = {
  name: 'contract-labels',
  description:
    'Namespaced objects carry app.kubernetes.io/part-of=mdp; workloads and their pod templates carry app.kubernetes.io/name, part-of, version and a component of api|worker|database|cache|broker.',
  check(ctx) {
    const out: Violation[] = [];
    const required = [
      'app.kubernetes.io/name',
      'app.kubernetes.io/part-of',
      'app.kubernetes.io/version',
      'app.kubernetes.io/component',
    ];
    const checkSet = (item: Located, labels: Record<string, string> | undefined, where: string) => {
      const l = labels ?? {};
      for (const k of required) if (!l[k]) out.push(violation(this.name, item, `${where} lacks label ${k}`));
      if (l['app.kubernetes.io/part-of'] && l['app.kubernetes.io/part-of'] !== 'mdp')
        out.push(violation(this.name, item, `${where}: app.kubernetes.io/part-of must be mdp`));
      const comp = l['app.kubernetes.io/component'];
      if (comp && !COMPONENTS.includes(comp))
        out.push(
          violation(this.name, item, `${where}: component ${comp} is not one of ${COMPONENTS.join(', ')}`),
        );
    };
    for (const item of ctx.items) {
      const r = item.resource;
      const template = podTemplate(r);
      if (template) {
        checkSet(item, r.metadata?.labels, 'metadata');
        checkSet(item, template.metadata?.labels, 'pod template');
      } else if (r.metadata?.labels?.['app.kubernetes.io/part-of'] !== 'mdp') {
        out.push(violation(this.name, item, 'lacks label app.kubernetes.io/part-of=mdp'));
      }
    }
    return out;
  },
};

const namespacePsa: Rule = {
  name: 'namespace-psa',
  description:
    'A render that places objects in a namespace also renders that Namespace, labelled to enforce the restricted Pod Security Standard.',
  check(ctx) {
    const out: Violation[] = [];
    const namespaces = new Set(
      ctx.items.map((i) => i.resource.metadata?.namespace).filter((n): n is string => typeof n === 'string'),
    );
    const hasWorkloads = workloads(ctx).length > 0;
    for (const ns of namespaces) {
      const item = find(ctx, 'Namespace', ns);
      if (!item) {
        if (hasWorkloads) {
          const first = ctx.items.find((i) => i.resource.metadata?.namespace === ns);
          if (first) out.push(violation(this.name, first, `namespace ${ns} is not part of the render`));
        }
        continue;
      }
      const l = item.resource.metadata?.labels ?? {};
      if (l['pod-security.kubernetes.io/enforce'] !== 'restricted')
        out.push(violation(this.name, item, 'pod-security.kubernetes.io/enforce must be restricted'));
    }
    return out;
  },
};

const podMonitors: Rule = {
  name: 'podmonitor-contract',
  description:
    'Every PodMonitor selects existing pods (operator-made ones included) and relabels app from the pod labels; a service PodMonitor scrapes /metrics on the http port and relabels version and rollouts_pod_template_hash too; every platform Deployment is scraped by one.',
  check(ctx) {
    const out: Violation[] = [];
    const ws = workloads(ctx);
    const monitors = ctx.items.filter((i) => i.resource.kind === 'PodMonitor');
    const labels = podLabels(ctx);
    for (const item of monitors) {
      const spec = item.resource.spec ?? {};
      if (!labels.some((l) => selectorMatches(spec.selector, l)))
        out.push(violation(this.name, item, 'selector matches no pod template'));
      // A datastore's exporter has its own port and path; its series only need the app label.
      const datastore = ['database', 'cache', 'broker'].includes(
        item.resource.metadata?.labels?.['app.kubernetes.io/component'] ?? '',
      );
      for (const ep of spec.podMetricsEndpoints ?? []) {
        if (!datastore && (ep.port !== 'http' || (ep.path ?? '/metrics') !== '/metrics'))
          out.push(violation(this.name, item, 'endpoint must scrape /metrics on port http'));
        const targets = new Map<string, string[]>(
          (ep.relabelings ?? []).map((r: Any) => [r.targetLabel, r.sourceLabels ?? []]),
        );
        const expected: [string, string][] = [
          ['app', '__meta_kubernetes_pod_label_app_kubernetes_io_name'],
          ...(datastore
            ? []
            : ([
                ['version', '__meta_kubernetes_pod_label_app_kubernetes_io_version'],
                ['rollouts_pod_template_hash', '__meta_kubernetes_pod_label_rollouts_pod_template_hash'],
              ] as [string, string][])),
        ];
        for (const [target, source] of expected)
          if (!targets.get(target)?.includes(source))
            out.push(violation(this.name, item, `no relabeling of ${source} into ${target}`));
      }
    }
    for (const w of ws) {
      if (!['Deployment', 'Rollout'].includes(w.item.resource.kind)) continue;
      const scraped = monitors.some((m) =>
        selectorMatches(m.resource.spec?.selector, w.template.metadata?.labels),
      );
      if (!scraped) out.push(violation(this.name, w.item, 'no PodMonitor scrapes this workload'));
    }
    return out;
  },
};

const autoscaling: Rule = {
  name: 'autoscaling-consistent',
  description:
    'Every HorizontalPodAutoscaler targets a rendered workload that leaves replicas to it, and every PodDisruptionBudget selects pods of a workload.',
  check(ctx) {
    const out: Violation[] = [];
    const ws = workloads(ctx);
    for (const item of ctx.items) {
      const r = item.resource;
      if (r.kind === 'HorizontalPodAutoscaler') {
        const ref = r.spec?.scaleTargetRef ?? {};
        const target = find(ctx, ref.kind, ref.name);
        if (!target)
          out.push(violation(this.name, item, `scaleTargetRef ${ref.kind}/${ref.name} is not in the render`));
        else if (target.resource.spec?.replicas !== undefined)
          out.push(
            violation(this.name, item, `${ref.kind}/${ref.name} sets replicas, which fights the autoscaler`),
          );
        if ((r.spec?.minReplicas ?? 1) > (r.spec?.maxReplicas ?? 0))
          out.push(violation(this.name, item, 'minReplicas exceeds maxReplicas'));
      }
      if (r.kind === 'PodDisruptionBudget') {
        if (!ws.some((w) => selectorMatches(r.spec?.selector, w.template.metadata?.labels)))
          out.push(violation(this.name, item, 'selector matches no pod template'));
      }
    }
    return out;
  },
};

function wave(r: Resource): number {
  return Number(r.metadata?.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0);
}

const syncWaves: Rule = {
  name: 'sync-waves',
  description:
    'Argo CD order: datastore StatefulSets come in an earlier wave than the Jobs, Jobs are Sync hooks recreated on each sync (BeforeHookCreation), and the Jobs come before the service workloads.',
  check(ctx) {
    const out: Violation[] = [];
    const stateful = ctx.items.filter((i) => i.resource.kind === 'StatefulSet');
    const jobs = ctx.items.filter((i) => i.resource.kind === 'Job');
    const services = ctx.items.filter((i) => ['Deployment', 'Rollout'].includes(i.resource.kind));
    const maxStateful = Math.max(...stateful.map((i) => wave(i.resource)));
    const minService = Math.min(...services.map((i) => wave(i.resource)));
    for (const job of jobs) {
      const a = job.resource.metadata?.annotations ?? {};
      const w = wave(job.resource);
      if (a['argocd.argoproj.io/hook'] !== 'Sync')
        out.push(violation(this.name, job, 'must be an Argo CD Sync hook'));
      if (!(a['argocd.argoproj.io/hook-delete-policy'] ?? '').includes('BeforeHookCreation'))
        out.push(
          violation(this.name, job, 'needs hook-delete-policy BeforeHookCreation (Jobs are immutable)'),
        );
      if (stateful.length > 0 && w <= maxStateful)
        out.push(violation(this.name, job, `wave ${w} must come after the datastores (wave ${maxStateful})`));
      if (services.length > 0 && w >= minService)
        out.push(violation(this.name, job, `wave ${w} must come before the services (wave ${minService})`));
    }
    return out;
  },
};

const mongoReplicas: Rule = {
  name: 'mongodb-replica-count',
  description:
    'The replica-set size the init Job configures (mongodb-config MONGODB_REPLICAS) equals the StatefulSet replicas.',
  check(ctx) {
    const sts = find(ctx, 'StatefulSet', 'mongodb');
    if (!sts) return [];
    const cm = ctx.items.find(
      (i) =>
        i.resource.kind === 'ConfigMap' && /^mongodb-config(-[a-z0-9]+)?$/.test(i.resource.metadata.name),
    );
    const configured = Number(cm?.resource.data?.MONGODB_REPLICAS);
    const replicas = Number(sts.resource.spec?.replicas ?? 1);
    return configured === replicas
      ? []
      : [
          violation(
            this.name,
            sts,
            `replicas ${replicas} but mongodb-config says MONGODB_REPLICAS=${cm?.resource.data?.MONGODB_REPLICAS}`,
          ),
        ];
  },
};

const serviceEnvContract: Rule = {
  name: 'service-env-contract',
  description:
    "Each service container gets every setting its config schema (services/<name>/src/config.ts) requires, and no setting the schema does not know (OTEL_* are the tracing preload's).",
  check(ctx) {
    const out: Violation[] = [];
    for (const { item, template } of workloads(ctx)) {
      if (!isLongRunning(item.resource)) continue;
      for (const c of containersOf(template.spec)) {
        const image: string = c.spec.image ?? '';
        if (c.init || !isAppImage(image)) continue;
        const service = parseImage(image).repository.split('/')[2] ?? '';
        const contract = ctx.serviceEnv[service];
        if (!contract) continue; // image-registry reports unknown services
        const provided = new Set<string>();
        for (const e of c.spec.env ?? []) provided.add(e.name);
        for (const e of c.spec.envFrom ?? []) {
          if (e.configMapRef) {
            const cm = find(ctx, 'ConfigMap', e.configMapRef.name);
            for (const k of Object.keys(cm?.resource.data ?? {})) provided.add(`${e.prefix ?? ''}${k}`);
          }
          if (e.secretRef) {
            const local = find(ctx, 'Secret', e.secretRef.name);
            const keys = local
              ? Object.keys({ ...local.resource.data, ...local.resource.stringData })
              : (ctx.externalSecrets[e.secretRef.name]?.keys ?? []);
            for (const k of keys) provided.add(`${e.prefix ?? ''}${k}`);
          }
        }
        for (const name of [...provided].sort())
          if (!contract.known.includes(name) && !name.startsWith('OTEL_'))
            out.push(
              violation(this.name, item, `container ${c.name}: ${name} is not a setting of ${service}`),
            );
        for (const name of contract.required)
          if (!provided.has(name))
            out.push(
              violation(this.name, item, `container ${c.name}: required setting ${name} is not provided`),
            );
      }
    }
    return out;
  },
};

export const RULES: Rule[] = [
  podHardening,
  appTmp,
  resourcesSet,
  probes,
  gracefulShutdown,
  imageTags,
  imageRegistry,
  pullSecret,
  serviceSelects,
  networkPolicySelects,
  configReferences,
  statefulStorage,
  contractLabels,
  namespacePsa,
  podMonitors,
  autoscaling,
  syncWaves,
  mongoReplicas,
  serviceEnvContract,
];

export function runRules(ctx: PolicyContext, rules: Rule[] = RULES): Violation[] {
  return rules.flatMap((r) => r.check(ctx));
}

export function formatViolation(v: Violation): string {
  return `file: ${v.file}\nresource: ${v.resource}\nrule: ${v.rule}: ${v.message}`;
}
