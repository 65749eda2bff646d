import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PolicyContext } from '../src/policies.js';
import { type Render, renderTarget } from '../src/render.js';
import type { Located } from '../src/resources.js';
import { externalSecrets, serviceDirs, serviceEnv } from '../src/validate.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const cache = new Map<string, Promise<Render>>();

/** Renders a target once per test process. */
export function rendered(target: string): Promise<Render> {
  let r = cache.get(target);
  if (!r) {
    r = renderTarget(repoRoot, target);
    cache.set(target, r);
  }
  return r;
}

const env = await serviceEnv(repoRoot);

export function context(items: Located[]): PolicyContext {
  return {
    items,
    serviceDirs: serviceDirs(repoRoot),
    externalSecrets: externalSecrets(repoRoot),
    serviceEnv: env,
  };
}

/** A deep copy of the located objects, safe to mutate in a test. */
export function copy(items: Located[]): Located[] {
  return structuredClone(items);
}

export function byId(items: Located[], kind: string, name: string): Located {
  const found = items.find((i) => i.resource.kind === kind && i.resource.metadata.name === name);
  if (!found) throw new Error(`${kind}/${name} is not in the render`);
  return found;
}

/**
 * Renders a variant of an overlay: a copy of `overlay` beside it (so its relative paths still
 * hold) whose kustomization.yaml `edit` rewrote; the copy is removed afterwards.
 */
export async function renderVariant(
  overlay: string,
  edit: (kustomization: string) => string,
): Promise<Render> {
  const dir = mkdtempSync(path.join(repoRoot, path.dirname(overlay), `.${path.basename(overlay)}-variant-`));
  try {
    cpSync(path.join(repoRoot, overlay), dir, { recursive: true });
    const file = path.join(dir, 'kustomization.yaml');
    const before = readFileSync(file, 'utf8');
    const after = edit(before);
    if (after === before) throw new Error(`the edit left ${overlay}/kustomization.yaml unchanged`);
    writeFileSync(file, after);
    return await renderTarget(repoRoot, path.relative(repoRoot, dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The production overlay with Flagger (deployment-strategies/flagger) instead of the Argo canary and mesh components. */
export const flaggerVariant = () =>
  renderVariant('deploy/overlays/production', (k) =>
    k
      .replace(
        /^ {2}- \.\.\/\.\.\/\.\.\/deployment-strategies\/canary$/m,
        '  - ../../../deployment-strategies/flagger',
      )
      .replace(/^.*East-west canary traffic.*\n {2}- \.\.\/\.\.\/\.\.\/deployment-strategies\/mesh\n/m, ''),
  );
