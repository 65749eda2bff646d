import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual, promisify } from 'node:util';
import { parse } from 'yaml';
import { type Located, ORIGIN_ANNOTATION, parseDocuments, type Resource } from './resources.js';

export interface Render {
  target: string;
  /** The rendered stream exactly as `kubectl kustomize` prints it (what a cluster would get). */
  text: string;
  items: Located[];
  /** Two renders gave byte-identical output. */
  deterministic: boolean;
}

const run = promisify(execFile);

async function kustomize(dir: string): Promise<string> {
  try {
    const { stdout } = await run('kubectl', ['kustomize', dir], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
    throw new Error(`kubectl kustomize ${dir} failed: ${stderr || (err as Error).message}`);
  }
}

/**
 * Renders a kustomization twice for determinism, and once more through a wrapper with
 * `buildMetadata: [originAnnotations]` so that every object can be traced to the file it was
 * written in. The wrapper's annotations are removed again; the objects must then equal the
 * plain render's, so what is validated is exactly what ships.
 */
export async function renderTarget(repoRoot: string, target: string): Promise<Render> {
  const dir = path.resolve(repoRoot, target);
  const wrapper = mkdtempSync(path.join(tmpdir(), 'k8s-validate-'));
  let text: string;
  let again: string;
  let withOrigin: Resource[];
  try {
    writeFileSync(
      path.join(wrapper, 'kustomization.yaml'),
      `resources:\n  - ${path.relative(wrapper, dir)}\nbuildMetadata: [originAnnotations]\n`,
    );
    let origin: string;
    [text, again, origin] = await Promise.all([kustomize(dir), kustomize(dir), kustomize(wrapper)]);
    withOrigin = parseDocuments(origin);
  } finally {
    rmSync(wrapper, { recursive: true, force: true });
  }
  const plain = parseDocuments(text);

  const items: Located[] = withOrigin.map((resource) => {
    const annotations = resource.metadata?.annotations ?? {};
    const origin = annotations[ORIGIN_ANNOTATION];
    let file = target;
    if (typeof origin === 'string') {
      const o = parse(origin) as { path?: string; configuredIn?: string } | null;
      const p = o?.path ?? o?.configuredIn;
      if (p) file = path.relative(repoRoot, path.resolve(wrapper, p));
      delete annotations[ORIGIN_ANNOTATION];
      if (Object.keys(annotations).length === 0) delete resource.metadata.annotations;
    }
    return { resource, file, target };
  });
  if (
    !isDeepStrictEqual(
      plain,
      items.map((i) => i.resource),
    )
  ) {
    throw new Error(`${target}: the render with origin annotations differs from the plain render`);
  }
  return { target, text, items, deterministic: text === again };
}

/** Located objects from a YAML text that is not a kustomization (fixtures, script output). */
export function locate(text: string, file: string, target = file): Located[] {
  return parseDocuments(text).map((resource) => ({ resource, file, target }));
}
