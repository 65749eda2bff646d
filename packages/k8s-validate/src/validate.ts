import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type ExternalSecret,
  formatViolation,
  type PolicyContext,
  RULES,
  runRules,
  type ServiceEnv,
  type Violation,
} from './policies.js';
import { type Render, renderTarget } from './render.js';
import type { Located } from './resources.js';

/** What `npm run validate:k8s` renders: the three environments, Argo CD, the cluster issuers. */
export const TARGETS = [
  'deploy/overlays/dev',
  'deploy/overlays/staging',
  'deploy/overlays/production',
  'deploy/argocd',
  'deploy/cluster',
];

export interface Problem extends Violation {}

export interface TargetReport {
  target: string;
  documents: number;
  deterministic: boolean;
  problems: Problem[];
}

export function serviceDirs(repoRoot: string): string[] {
  const dir = path.join(repoRoot, 'services');
  return readdirSync(dir)
    .filter((n) => statSync(path.join(dir, n)).isDirectory())
    .sort();
}

export function externalSecrets(repoRoot: string): Record<string, ExternalSecret> {
  const doc = JSON.parse(readFileSync(path.join(repoRoot, 'deploy/external-secrets.json'), 'utf8')) as {
    secrets: Record<string, ExternalSecret>;
  };
  return doc.secrets;
}

/**
 * The settings each service's config schema knows and requires, read from the schema itself
 * (services/<name>/src/config.ts exports `configSchema`, a zod object): a setting is required
 * when the schema rejects its absence.
 */
export async function serviceEnv(repoRoot: string): Promise<Record<string, ServiceEnv>> {
  const out: Record<string, ServiceEnv> = {};
  for (const dir of serviceDirs(repoRoot)) {
    const file = path.join(repoRoot, 'services', dir, 'src/config.ts');
    const mod = (await import(pathToFileURL(file).href)) as {
      configSchema?: { shape?: Record<string, { safeParse(v: unknown): { success: boolean } }> };
    };
    const shape = mod.configSchema?.shape;
    if (!shape) throw new Error(`${file} exports no zod object configSchema`);
    const known = Object.keys(shape).sort();
    out[dir] = { known, required: known.filter((k) => !shape[k]?.safeParse(undefined).success) };
  }
  return out;
}

export function checkItems(items: Located[], ctx: Omit<PolicyContext, 'items'>): Problem[] {
  return runRules({ ...ctx, items });
}

export async function validateRender(render: Render, repoRoot: string): Promise<TargetReport> {
  const problems = checkItems(render.items, {
    serviceDirs: serviceDirs(repoRoot),
    externalSecrets: externalSecrets(repoRoot),
    serviceEnv: await serviceEnv(repoRoot),
  });
  if (!render.deterministic) {
    problems.push({
      rule: 'deterministic-render',
      file: render.target,
      resource: '(whole render)',
      message: 'two renders of the same tree differ',
    });
  }
  return {
    target: render.target,
    documents: render.items.length,
    deterministic: render.deterministic,
    problems,
  };
}

export async function validateRepo(repoRoot: string, targets = TARGETS): Promise<TargetReport[]> {
  const renders = await Promise.all(targets.map((t) => renderTarget(repoRoot, t)));
  const reports: TargetReport[] = [];
  for (const render of renders) reports.push(await validateRender(render, repoRoot));
  return reports;
}

export { formatViolation, RULES };
