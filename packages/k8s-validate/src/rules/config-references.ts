import {
  containersOf,
  find,
  type IPodSpec,
  keysOf,
  ofKind,
  type PolicyContext,
  type Rule,
  type Violation,
  violation,
  workloads,
} from '../policy.js';
import type { Located } from '../resources.js';

interface Ref {
  kind: 'ConfigMap' | 'Secret';
  name: string;
  key?: string;
  where: string;
}

function referencesOf(podSpec: IPodSpec | undefined): Ref[] {
  const refs: Ref[] = [];
  for (const s of podSpec?.imagePullSecrets ?? [])
    if (s.name) refs.push({ kind: 'Secret', name: s.name, where: 'imagePullSecrets' });
  for (const vol of podSpec?.volumes ?? []) {
    const where = `volume ${vol.name}`;
    const add = (kind: Ref['kind'], name: string | undefined, items: { key: string }[] | undefined) => {
      if (!name) return;
      const keys = (items ?? []).map((i) => i.key);
      if (keys.length === 0) refs.push({ kind, name, where });
      for (const key of keys) refs.push({ kind, name, key, where });
    };
    if (vol.configMap) add('ConfigMap', vol.configMap.name, vol.configMap.items);
    if (vol.secret) add('Secret', vol.secret.secretName, vol.secret.items);
    for (const src of vol.projected?.sources ?? []) {
      if (src.configMap) add('ConfigMap', src.configMap.name, src.configMap.items);
      if (src.secret) add('Secret', src.secret.name, src.secret.items);
    }
  }
  for (const c of containersOf(podSpec)) {
    const where = `container ${c.name}`;
    for (const e of c.spec.envFrom ?? []) {
      if (e.configMapRef?.name) refs.push({ kind: 'ConfigMap', name: e.configMapRef.name, where });
      if (e.secretRef?.name) refs.push({ kind: 'Secret', name: e.secretRef.name, where });
    }
    for (const e of c.spec.env ?? []) {
      const cm = e.valueFrom?.configMapKeyRef;
      const sk = e.valueFrom?.secretKeyRef;
      if (cm?.name)
        refs.push({ kind: 'ConfigMap', name: cm.name, key: cm.key, where: `${where} env ${e.name}` });
      if (sk?.name)
        refs.push({ kind: 'Secret', name: sk.name, key: sk.key, where: `${where} env ${e.name}` });
    }
  }
  return refs;
}

function check(rule: string, ctx: PolicyContext): Violation[] {
  const out: Violation[] = [];
  const certSecrets = new Set(ofKind(ctx, 'Certificate').map(({ obj }) => obj.spec?.secretName));
  const checkRef = (item: Located, ref: Ref) => {
    const v = (m: string) => out.push(violation(rule, item, `${ref.where}: ${ref.kind} ${ref.name} ${m}`));
    const local = find(ctx, ref.kind, ref.name);
    if (local) {
      const obj = local.resource as { data?: Record<string, string>; stringData?: Record<string, string> };
      if (ref.key !== undefined && !keysOf(obj).includes(ref.key)) v(`has no key ${ref.key}`);
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
  for (const item of ctx.items.filter((i) => i.resource.kind === 'Gateway'))
    for (const l of item.resource.spec?.listeners ?? [])
      for (const ref of l.tls?.certificateRefs ?? [])
        if ((ref.kind ?? 'Secret') === 'Secret' && !ref.namespace)
          checkRef(item, { kind: 'Secret', name: ref.name, where: `listener ${l.name} tls` });
  return out;
}

export const configReferences: Rule = {
  name: 'config-references',
  description:
    'Every ConfigMap and Secret a pod or Gateway listener references (and each key it names) exists in the render, is written by a cert-manager Certificate, or is a documented external secret (deploy/external-secrets.json).',
  check(ctx) {
    return check(this.name, ctx);
  },
};
