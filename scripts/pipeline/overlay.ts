/**
 * The image digests of an overlay: read and set in its kustomization.yaml `images:` (what
 * `kustomize edit set image NAME=NEWNAME:TAG@DIGEST` writes: the entry keeps newName and newTag and
 * gains `digest`), and checked in the render (`kubectl kustomize`, Kustomize v5 built into kubectl):
 * every container that runs a promoted service's image must carry its digest.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, parseDocument, YAMLMap, YAMLSeq } from 'yaml';
import type { Environment, Images } from './records.js';

export const DIGEST = /^sha256:[0-9a-f]{64}$/;

export const overlayDir = (root: string, env: Environment) => path.join(root, 'deploy', 'overlays', env);
export const kustomizationFile = (root: string, env: Environment) =>
  path.join(overlayDir(root, env), 'kustomization.yaml');

export interface ImageEntry {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

export function readImages(root: string, env: Environment): ImageEntry[] {
  const doc = parseDocument(readFileSync(kustomizationFile(root, env), 'utf8'));
  return ((doc.toJS() as { images?: ImageEntry[] }).images ?? []).map((e) => ({ ...e }));
}

/** Sets `digest` on each named image entry, keeping comments and order; unknown names throw. */
export function setDigests(root: string, env: Environment, images: Images): void {
  const file = kustomizationFile(root, env);
  const doc = parseDocument(readFileSync(file, 'utf8'));
  const seq = doc.get('images');
  if (!(seq instanceof YAMLSeq)) throw new Error(`${file}: no images: list`);
  for (const [service, digest] of Object.entries(images)) {
    if (!DIGEST.test(digest)) throw new Error(`${service}: "${digest}" is not a sha256 digest`);
    const entry = seq.items.find((i): i is YAMLMap => i instanceof YAMLMap && i.get('name') === service);
    if (!entry) throw new Error(`${file}: no images: entry named ${service}`);
    entry.set('digest', digest);
  }
  writeFileSync(file, doc.toString());
}

export interface RenderedImage {
  workload: string;
  container: string;
  image: string;
}

const CONTAINER_LISTS = new Set(['containers', 'initContainers', 'ephemeralContainers']);

/** Every container list anywhere in a manifest (pod templates, CronJobs, AnalysisTemplate Jobs ...). */
function containersIn(node: unknown, out: { name?: string; image?: string }[] = []) {
  if (Array.isArray(node)) for (const n of node) containersIn(n, out);
  else if (node && typeof node === 'object')
    for (const [k, v] of Object.entries(node)) {
      if (CONTAINER_LISTS.has(k) && Array.isArray(v)) out.push(...(v as { name?: string; image?: string }[]));
      else containersIn(v, out);
    }
  return out;
}

/** Every container image of the overlay's render (Deployments, Rollouts, Jobs, AnalysisTemplates, ...). */
export function renderedImages(root: string, env: Environment): RenderedImage[] {
  const out = execFileSync('kubectl', ['kustomize', overlayDir(root, env)], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const images: RenderedImage[] = [];
  for (const doc of parseAllDocuments(out)) {
    const m = doc.toJS() as { kind?: string; metadata?: { name?: string } } | null;
    if (!m) continue;
    for (const c of containersIn(m))
      if (typeof c.image === 'string')
        images.push({ workload: `${m.kind}/${m.metadata?.name}`, container: c.name ?? '', image: c.image });
  }
  return images;
}

/**
 * Problems of the render against the expected digests: a service whose image appears nowhere, or a
 * container running a service's image without exactly that digest. `null` expects no digest.
 */
export function renderProblems(
  root: string,
  env: Environment,
  expected: Record<string, string | null>,
): string[] {
  const entries = new Map(readImages(root, env).map((e) => [e.name, e]));
  const rendered = renderedImages(root, env);
  const problems: string[] = [];
  for (const [service, digest] of Object.entries(expected)) {
    const repo = entries.get(service)?.newName ?? service;
    const mine = rendered.filter((r) => r.image.split('@')[0]?.replace(/:[^:/]+$/, '') === repo);
    if (!mine.length) problems.push(`${service}: no rendered container runs ${repo}`);
    for (const r of mine) {
      const got = r.image.includes('@') ? r.image.slice(r.image.indexOf('@') + 1) : null;
      if (got !== digest)
        problems.push(
          `${r.workload} container ${r.container}: ${r.image}, expected digest ${digest ?? 'none'}`,
        );
    }
  }
  return problems;
}
