/**
 * Validators for the custom resources of operators that no `@kubernetes-models` package covers
 * (CloudNativePG, the RabbitMQ cluster operator), compiled from the operators' own CRD manifests
 * — the openAPIV3Schema the API server itself enforces — read from their Go modules in the
 * module cache (`go mod download` puts them there: scripts/install-tools.d/data.sh). Nothing of
 * them is copied into this repository; each line of CRD_MODULES names a module, its version
 * and the folder of its CRDs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';
import { Ajv, type ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';

export interface CrdModule {
  /** API group of the custom resources. */
  group: string;
  module: string;
  version: string;
  /** Folder of the CRD manifests inside the module. */
  dir: string;
}

export const CRD_MODULES: CrdModule[] = [
  {
    group: 'postgresql.cnpg.io',
    module: 'github.com/cloudnative-pg/cloudnative-pg',
    version: 'v1.28.0',
    dir: 'config/crd/bases',
  },
  {
    group: 'rabbitmq.com',
    module: 'github.com/rabbitmq/cluster-operator/v2',
    version: 'v2.16.0',
    dir: 'config/crd/bases',
  },
];

/** Where the Go module cache keeps `module@version` (upper case escaped as `!x`). */
export function moduleDir(mod: CrdModule): string {
  const cache =
    process.env.GOMODCACHE ||
    execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8', env: goEnv() }).trim();
  const escaped = mod.module.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
  const dir = path.join(cache, `${escaped}@${mod.version}`);
  if (!existsSync(dir))
    execFileSync('go', ['mod', 'download', `${mod.module}@${mod.version}`], {
      env: goEnv(),
      stdio: 'ignore',
      timeout: 300_000,
    });
  return dir;
}

function goEnv(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/local/go/bin`, GOFLAGS: '-mod=mod' };
}

interface CrdVersion {
  name: string;
  schema?: { openAPIV3Schema?: object };
}
interface Crd {
  kind?: string;
  spec?: { group?: string; names?: { kind?: string }; versions?: CrdVersion[] };
}

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
const compiled = new Map<string, ValidateFunction | undefined>();

/**
 * A model class with `validate()` (throwing ajv's errors, like the kubernetes-models classes)
 * for `apiVersion` `kind`, when its group is one of CRD_MODULES; otherwise undefined.
 */
export function crdModel(
  apiVersion: string,
  kind: string,
): { prototype: { validate(this: unknown): void } } | undefined {
  const [group, version] = apiVersion.split('/');
  const mod = CRD_MODULES.find((m) => m.group === group);
  if (!mod || !version) return undefined;
  const key = `${apiVersion}/${kind}`;
  if (!compiled.has(key)) compiled.set(key, compile(mod, version, kind));
  const fn = compiled.get(key);
  if (!fn) return undefined;
  return {
    prototype: {
      validate(this: unknown) {
        // The CRD schema types metadata as a bare object: it is checked as ObjectMeta, as the
        // API server does.
        const { metadata, ...rest } = this as Record<string, unknown>;
        if (metadata !== undefined) ObjectMeta.prototype.validate.call(metadata);
        if (!fn({ ...rest, metadata: {} })) {
          const err = new Error(`${kind} does not match its CRD schema`) as Error & { errors: unknown };
          err.errors = fn.errors;
          throw err;
        }
      },
    },
  };
}

function compile(mod: CrdModule, version: string, kind: string): ValidateFunction | undefined {
  const dir = path.join(moduleDir(mod), mod.dir);
  for (const file of readdirSync(dir).sort()) {
    if (!/\.ya?ml$/.test(file)) continue;
    for (const doc of parseAllDocuments(readFileSync(path.join(dir, file), 'utf8'))) {
      const crd = doc.toJS() as Crd | null;
      if (crd?.kind !== 'CustomResourceDefinition' || crd.spec?.group !== mod.group) continue;
      if (crd.spec.names?.kind !== kind) continue;
      const schema = crd.spec.versions?.find((v) => v.name === version)?.schema?.openAPIV3Schema;
      if (schema) return ajv.compile(schema);
    }
  }
  return undefined;
}
