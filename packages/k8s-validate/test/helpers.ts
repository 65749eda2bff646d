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
