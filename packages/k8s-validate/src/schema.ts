/**
 * Strict schema validation of rendered objects, built-in kinds and custom resources alike.
 *
 * The validators come from the `kubernetes-models` packages (Kubernetes' own OpenAPI schema,
 * and the CRD schemas of prometheus-operator, cert-manager and Argo CD), compiled with ajv.
 * They catch wrong types, bad formats and missing required fields but, like the API server's
 * pruning, let unknown fields through. To reject unknown or misspelled fields, each object
 * is handed to the validator behind a Proxy that records which property names the
 * validator reads: a compiled schema reads every property it declares (to check it) and
 * enumerates the keys of maps (labels, data, ...). A key the validator never looked at is
 * not in the schema, so it is reported as an unknown field.
 */

import { crdModel } from './crd-schemas.js';

export interface SchemaIssue {
  /** JSON-pointer-like path inside the object, e.g. /spec/template/spec/containers/0/imagePullPolicy. */
  path: string;
  message: string;
}

interface ModelClass {
  prototype: { validate(this: unknown): void };
}

/** Custom-resource groups and the packages that model them (several may share a group). */
const CRD_PACKAGES: Record<string, string[]> = {
  'monitoring.coreos.com': ['@kubernetes-models/prometheus-operator'],
  'cert-manager.io': ['@kubernetes-models/cert-manager'],
  'acme.cert-manager.io': ['@kubernetes-models/cert-manager'],
  'argoproj.io': ['@kubernetes-models/argo-cd', '@kubernetes-models/argo-rollouts'],
};

function packagesFor(group: string): string[] {
  const crd = CRD_PACKAGES[group];
  if (crd) return crd;
  // Built-in API groups: the core group, unqualified groups (apps, batch, policy, ...) and *.k8s.io.
  if (group === '' || !group.includes('.') || group.endsWith('.k8s.io')) return ['kubernetes-models'];
  return [];
}

const modelCache = new Map<string, Promise<ModelClass | undefined>>();

async function importModel(pkg: string, dir: string, kind: string): Promise<ModelClass | undefined> {
  try {
    const mod = (await import(`${pkg}/${dir}/${kind}`)) as Record<string, unknown>;
    const cls = mod[kind] as ModelClass | undefined;
    return typeof cls?.prototype?.validate === 'function' ? cls : undefined;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' || code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw err;
  }
}

export function loadModel(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  const crd = crdModel(apiVersion, kind);
  if (crd) return Promise.resolve(crd);
  const key = `${apiVersion}/${kind}`;
  let found = modelCache.get(key);
  if (!found) {
    const slash = apiVersion.indexOf('/');
    const group = slash === -1 ? '' : apiVersion.slice(0, slash);
    const dir = apiVersion; // core "v1" -> "v1", "apps/v1" -> "apps/v1"
    found = (async () => {
      for (const pkg of packagesFor(group)) {
        const cls = await importModel(pkg, dir, kind);
        if (cls) return cls;
      }
      return undefined;
    })();
    modelCache.set(key, found);
  }
  return found;
}

interface Tracked {
  path: string;
  keys: string[];
  read: Set<string>;
  enumerated: boolean;
}

function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** A deep copy of `value` in which every object records the property names read from it. */
function track(value: unknown, path: string, seen: Tracked[]): unknown {
  if (Array.isArray(value)) return value.map((v, i) => track(v, `${path}/${i}`, seen));
  if (value === null || typeof value !== 'object') return value;
  const entry: Tracked = { path, keys: Object.keys(value), read: new Set(), enumerated: false };
  seen.push(entry);
  const copy: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) copy[k] = track(v, `${path}/${escapePointer(k)}`, seen);
  return new Proxy(copy, {
    get(target, prop, receiver) {
      if (typeof prop === 'string') entry.read.add(prop);
      return Reflect.get(target, prop, receiver);
    },
    has(target, prop) {
      if (typeof prop === 'string') entry.read.add(prop);
      return Reflect.has(target, prop);
    },
    ownKeys(target) {
      // A validator that enumerates the keys treats the object as a map (labels, data,
      // resources.requests, ...): every key is then checked by its value schema.
      entry.enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
}

interface AjvError {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

function typeIssues(err: unknown): SchemaIssue[] {
  const errors = (err as { errors?: AjvError[] }).errors;
  if (!Array.isArray(errors) || errors.length === 0) {
    return [{ path: '', message: (err as Error).message ?? String(err) }];
  }
  const out = new Map<string, SchemaIssue>();
  for (const e of errors) {
    const extra = e.params?.allowedValues ? ` (${JSON.stringify(e.params.allowedValues)})` : '';
    const issue = { path: e.instancePath ?? '', message: `${e.message ?? 'is invalid'}${extra}` };
    out.set(`${issue.path} ${issue.message}`, issue);
  }
  return [...out.values()];
}

/** Validates one object strictly: schema types, required fields, and no unknown fields. */
export async function validateStrict(obj: unknown): Promise<SchemaIssue[]> {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    return [{ path: '', message: 'is not an object' }];
  }
  const { apiVersion, kind } = obj as { apiVersion?: unknown; kind?: unknown };
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
    return [{ path: '', message: 'has no apiVersion or kind' }];
  }
  const model = await loadModel(apiVersion, kind);
  if (!model)
    return [{ path: '', message: `no schema known for ${apiVersion} ${kind} (unknown kind or API version)` }];

  const seen: Tracked[] = [];
  const proxy = track(obj, '', seen);
  const issues: SchemaIssue[] = [];
  let typeErrors = false;
  try {
    model.prototype.validate.call(proxy);
  } catch (err) {
    typeErrors = true;
    issues.push(...typeIssues(err));
  }
  for (const t of seen) {
    if (t.enumerated) continue;
    for (const key of t.keys) {
      if (!t.read.has(key)) {
        issues.push({
          path: `${t.path}/${escapePointer(key)}`,
          message: 'unknown field (not in the schema)',
        });
      }
    }
  }
  // A type error can stop the validator before it reads some siblings; those reports are
  // then unreliable, but the object fails either way.
  if (typeErrors && issues.length === 0) issues.push({ path: '', message: 'is invalid' });
  return issues;
}
