/**
 * The CustomResourceDefinitions the local cluster installs, read from the pinned modules' own
 * manifests in the Go module cache. Nothing of them is copied into this repository: each line
 * names a module, its version and the folder inside it; adding an operator's CRDs (CloudNativePG,
 * the RabbitMQ cluster operator, Flagger, Istio, ...) is one more line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { moduleDir, pinnedVersion } from './tools.js';

export interface CrdSource {
  /** What the CRDs are for. */
  name: string;
  module: string;
  /** An exact version, or the tools/ folder whose go.mod pins the module (the engine's own). */
  version: string | { goMod: string };
  /** Folder inside the module; every *.yaml in it that holds a CRD is installed. */
  path: string;
}

export const CRD_SOURCES: CrdSource[] = [
  {
    name: 'Argo Rollouts',
    module: 'github.com/argoproj/argo-rollouts',
    version: { goMod: 'argo-rollouts' },
    path: 'manifests/crds',
  },
  // Download only: Argo CD is not built here.
  { name: 'Argo CD', module: 'github.com/argoproj/argo-cd/v3', version: 'v3.5.7', path: 'manifests/crds' },
  {
    name: 'cert-manager',
    module: 'github.com/cert-manager/cert-manager',
    version: 'v1.21.2',
    path: 'deploy/crds',
  },
  {
    name: 'prometheus-operator',
    module: 'github.com/prometheus-operator/prometheus-operator',
    version: 'v0.85.0',
    path: 'example/prometheus-operator-crd',
  },
  { name: 'Gateway API', module: 'sigs.k8s.io/gateway-api', version: 'v1.6.3', path: 'config/crd/standard' },
  // Istio's own API module: the mesh routes (VirtualService) of deployment-strategies/mesh.
  { name: 'Istio', module: 'istio.io/api', version: 'v1.32.0', path: 'kubernetes' },
  // Flagger, the optional alternative to Argo Rollouts (deployment-strategies/flagger).
  { name: 'Flagger', module: 'github.com/fluxcd/flagger', version: 'v1.36.1', path: 'artifacts/flagger' },
  // The production data tier's operators (deploy/components/datastores-ha).
  {
    name: 'CloudNativePG',
    module: 'github.com/cloudnative-pg/cloudnative-pg',
    version: 'v1.28.0',
    path: 'config/crd/bases',
  },
  {
    name: 'RabbitMQ cluster operator',
    module: 'github.com/rabbitmq/cluster-operator/v2',
    version: 'v2.16.0',
    path: 'config/crd/bases',
  },
];

export interface CrdFile {
  source: string;
  file: string;
  /** CRD names (plural.group) in the file. */
  names: string[];
  text: string;
}

export function versionOf(source: CrdSource): string {
  return typeof source.version === 'string'
    ? source.version
    : pinnedVersion(source.version.goMod, source.module);
}

// The CRD files are large (about 11 MB in all); a full YAML parse of them takes tens of seconds
// on this machine, so the kind and name of each document are read with two anchored patterns.
const KIND_CRD = /^kind:\s*CustomResourceDefinition\s*$/m;
const TOP_NAME = /^metadata:[ \t]*\n(?:(?: {2,}.*)?\n)*? {2}name:[ \t]*["']?([^"'\s]+)/m;

/** Names of the CRDs in a YAML stream. */
export function crdNames(text: string): string[] {
  return text
    .split(/^---[ \t]*$/m)
    .filter((doc) => KIND_CRD.test(doc))
    .map((doc) => {
      const name = TOP_NAME.exec(doc)?.[1];
      if (!name) throw new Error('a CustomResourceDefinition without metadata.name');
      return name;
    });
}

/** The CRD files of one source, in name order. */
export async function crdFiles(source: CrdSource): Promise<CrdFile[]> {
  const dir = path.join(await moduleDir(source.module, versionOf(source)), source.path);
  const out: CrdFile[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!/\.ya?ml$/.test(name)) continue;
    const file = path.join(dir, name);
    const text = readFileSync(file, 'utf8');
    const names = crdNames(text);
    if (names.length > 0) out.push({ source: source.name, file, names, text });
  }
  if (out.length === 0) throw new Error(`${source.module}@${versionOf(source)}/${source.path} holds no CRD`);
  return out;
}

export async function allCrdFiles(sources: CrdSource[] = CRD_SOURCES): Promise<CrdFile[]> {
  return (await Promise.all(sources.map(crdFiles))).flat();
}
