/**
 * The static guard against ImagePullBackOff: every image that rendered Kubernetes manifests take
 * from the project's registry must be one the build produces (scripts/build-images.sh --list),
 * with a tag of the contract's scheme (semver X.Y.Z, sha-<7 hex>, dev|staging|stable).
 *
 *   kubectl kustomize deploy/overlays/dev | node --import tsx scripts/check-image-refs.ts [--owner NAME]
 *   node --import tsx scripts/check-image-refs.ts rendered.yaml [...]
 *
 * Images of other registries/owners (PostgreSQL, Redis, Jaeger ...) are listed, not judged.
 * Exit 1 with one line per bad reference.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const CONTAINER_LISTS = new Set(['containers', 'initContainers', 'ephemeralContainers']);
/** Every `image:` of a container in the YAML documents, with the object it sits in. */
export function imageRefs(yamlText) {
  const out = [];
  for (const doc of parseAllDocuments(yamlText)) {
    const obj = doc.toJS();
    if (!obj || typeof obj !== 'object') continue;
    const o = obj;
    const where = `${o.kind ?? '?'}/${o.metadata?.name ?? '?'}`;
    const walk = (node, inContainers) => {
      if (Array.isArray(node)) {
        for (const item of node) walk(item, inContainers);
      } else if (node && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) {
          if (inContainers && k === 'image' && typeof v === 'string') out.push({ ref: v, where });
          else walk(v, CONTAINER_LISTS.has(k));
        }
      }
    };
    walk(obj, false);
  }
  return out;
}
/** Splits `registry/owner/name:tag@digest` into repository and tag (no tag: ''). */
export function splitRef(ref) {
  const [beforeDigest = '', digest = ''] = ref.split('@');
  const slash = beforeDigest.lastIndexOf('/');
  const colon = beforeDigest.lastIndexOf(':');
  if (colon > slash)
    return { repository: beforeDigest.slice(0, colon), tag: beforeDigest.slice(colon + 1), digest };
  return { repository: beforeDigest, tag: '', digest };
}
/** Problems (empty when fine) and the external images, for a set of references. */
export function checkRefs(refs, list) {
  const names = new Set(list.images.map((i) => i.name));
  const tagRe = new RegExp(list.tagPattern);
  const ours = `${list.registry}/${list.owner}/`;
  const serviceNames = new Set(list.images.map((i) => i.service));
  const problems = [];
  const external = [];
  for (const { ref, where } of refs) {
    const { repository, tag } = splitRef(ref);
    const last = repository.split('/').pop() ?? '';
    const looksOurs = repository.startsWith(ours) || serviceNames.has(last);
    if (!looksOurs) {
      external.push(`${where}: ${ref}`);
      continue;
    }
    if (!names.has(repository)) {
      problems.push(
        `${where}: ${ref}: the build produces no image named ${repository} (it builds ${[...names].join(', ')})`,
      );
    } else if (!tagRe.test(tag)) {
      problems.push(`${where}: ${ref}: tag '${tag}' does not match ${list.tagPattern}`);
    }
  }
  return { problems, external };
}
async function main(argv) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const args = [...argv];
  const ownerAt = args.indexOf('--owner');
  const ownerArgs = ownerAt >= 0 ? ['--owner', args.splice(ownerAt, 2)[1] ?? ''] : [];
  const list = JSON.parse(
    execFileSync(path.join(root, 'scripts/build-images.sh'), ['--list', '--json', ...ownerArgs], {
      encoding: 'utf8',
    }),
  );
  const text = args.length
    ? args.map((f) => readFileSync(f, 'utf8')).join('\n---\n')
    : readFileSync(0, 'utf8');
  const refs = imageRefs(text);
  const { problems, external } = checkRefs(refs, list);
  for (const e of external) process.stdout.write(`external ${e}\n`);
  for (const p of problems) process.stderr.write(`check-image-refs: ${p}\n`);
  const ours = refs.length - external.length;
  if (ours === 0) {
    process.stderr.write('check-image-refs: no image of this project in the input\n');
    process.exit(1);
  }
  if (problems.length) process.exit(1);
  process.stdout.write(`check-image-refs: ${ours} project image reference(s) OK\n`);
}
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(process.argv.slice(2));
}
//# sourceMappingURL=check-image-refs.js.map
