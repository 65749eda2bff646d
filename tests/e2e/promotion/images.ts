/**
 * The release's images for the promotion test: the service images built before on this machine
 * (scripts/build-images.sh, by the container test or by hand) are reused from the local image
 * store; only when some service has none is scripts/build-images.sh --standin run (its layer cache
 * makes a rebuild of unchanged sources quick). They are pushed to a registry of this run (Debian's
 * docker-registry on 127.0.0.1, the project's containers/registry/config.yml) and signed there
 * by digest with cosign (tests/containers/signing.ts: a key pair of the run, no transparency log).
 * A "new build" of a service is its image with one label more (new config, new digest, same
 * layers): what a rebuild of changed sources is to the registry, without the compile.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Managed, startProcess } from '@mdp/cluster/processes';
import { eventually, freePort } from '@mdp/platform/testing';
import { createSigner, type Signer } from '../../containers/signing.js';
import { httpStatus, mustRun, ROOT, run } from '../../containers/stack.js';

export const OWNER = 'mdp-e2e';

export interface Registry {
  addr: string;
  proc: Managed;
  stop(): Promise<void>;
}

export async function startRegistry(work: string): Promise<Registry> {
  const addr = `127.0.0.1:${await freePort()}`;
  const data = path.join(work, 'registry');
  mkdirSync(data, { recursive: true });
  const proc = startProcess(
    'docker-registry',
    'docker-registry',
    ['serve', path.join(ROOT, 'containers/registry/config.yml')],
    {
      logFile: path.join(work, 'registry.log'),
      env: { ...process.env, REGISTRY_HTTP_ADDR: addr, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: data },
    },
  );
  await eventually(async () => (await httpStatus(`http://${addr}/v2/`)) === 200, 15_000, 100);
  return { addr, proc, stop: () => proc.stop() };
}

export interface LocalImage {
  service: string;
  id: string;
  revision: string;
  created: number;
}

interface PodmanImage {
  Id: string;
  Created: number;
  Labels?: Record<string, string> | null;
}

/** Every image of the store that scripts/build-images.sh made for `service` (label io.mdp.service). */
async function imagesOf(service: string): Promise<LocalImage[]> {
  const out = await mustRun('podman', [
    'images',
    '--format',
    'json',
    '--filter',
    `label=io.mdp.service=${service}`,
  ]);
  return (JSON.parse(out || '[]') as PodmanImage[])
    .map((i) => ({
      service,
      id: i.Id,
      revision: i.Labels?.['org.opencontainers.image.revision'] ?? '',
      created: i.Created,
    }))
    .filter((i) => /^[0-9a-f]{40}$/.test(i.revision))
    .sort((a, b) => b.created - a.created);
}

/**
 * One image per service, all of one source revision: the newest revision for which every service
 * has an image (HEAD's when it has them all). Builds them (scripts/build-images.sh --standin, all
 * services, layer cache) only when no revision is complete. `say` gets a line per decision.
 */
export async function releaseImages(
  services: string[],
  say: (line: string) => void,
): Promise<{ images: LocalImage[]; built: boolean }> {
  const pick = async () => {
    const all = await Promise.all(services.map(imagesOf));
    const head = (await mustRun('git', ['rev-parse', 'HEAD'])).trim();
    const complete = (rev: string) => all.every((list) => list.some((i) => i.revision === rev));
    const revisions = [head, ...all.flat().map((i) => i.revision)];
    const rev = revisions.find(complete);
    if (!rev) return undefined;
    if (rev !== head)
      say(`images of ${rev.slice(0, 7)} reused (HEAD is ${head.slice(0, 7)}: no image of it yet)`);
    return all.map((list) => list.find((i) => i.revision === rev) as LocalImage);
  };
  const found = await pick();
  if (found) return { images: found, built: false };
  say('no complete set of service images in the store: scripts/build-images.sh --standin');
  await mustRun(path.join(ROOT, 'scripts/build-images.sh'), ['--standin', '--owner', OWNER, ...services], {
    timeoutMs: 30 * 60_000,
  });
  const built = await pick();
  if (!built) throw new Error('scripts/build-images.sh ran, yet no complete set of images is in the store');
  return { images: built, built: true };
}

/** Pushes a local image (id or name) to `ref` (a tag); resolves with the pushed manifest's digest. */
export async function push(local: string, ref: string, work: string): Promise<string> {
  const digestFile = path.join(work, `digest-${Math.random().toString(16).slice(2)}`);
  await mustRun(
    'skopeo',
    [
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      // The fastest gzip: the layers only travel over loopback.
      '--dest-compress-level',
      '1',
      '--digestfile',
      digestFile,
      `containers-storage:${local}`,
      `docker://${ref}`,
    ],
    { timeoutMs: 10 * 60_000 },
  );
  const digest = readFileSync(digestFile, 'utf8').trim();
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`skopeo copy ${ref}: digest "${digest}"`);
  return digest;
}

/**
 * A new build of a service's image: the image plus the label `io.mdp.e2e.build=<build>`, committed
 * locally under `localName` and pushed as REPO:<tag>. Resolves with its digest. The caller removes
 * `localName` from the store (removeLocal) when done.
 */
export async function derive(
  from: string,
  build: string,
  localName: string,
  ref: string,
  work: string,
): Promise<string> {
  const ctr = (await mustRun('buildah', ['from', '--pull=never', from])).trim();
  await mustRun('buildah', ['config', '--label', `io.mdp.e2e.build=${build}`, ctr]);
  await mustRun('buildah', ['commit', '--quiet', '--rm', ctr, localName]);
  return push(localName, ref, work);
}

/** Removes images this run committed (their layers are the reused image's and stay). */
export async function removeLocal(names: string[]): Promise<void> {
  for (const n of names) await run('podman', ['rmi', n]);
}

export type { Signer };
export { createSigner };
