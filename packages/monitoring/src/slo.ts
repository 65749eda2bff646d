/**
 * monitoring/slo: Sloth specs (specs/*.yaml, Sloth's Kubernetes format `PrometheusServiceLevel`)
 * and the PrometheusRule objects the real Sloth generates from them (rules/<same name>.yaml,
 * checked in). `npm run slo:generate` rewrites them; the tests fail when they are stale.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { root, run } from './monitoring.js';

export const specsDir = (): string => path.join(root(), 'slo', 'specs');
export const rulesDir = (): string => path.join(root(), 'slo', 'rules');

export const specFiles = (): string[] =>
  readdirSync(specsDir())
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => path.join(specsDir(), f));

export interface SloSpec {
  metadata: { name: string };
  spec: {
    service: string;
    labels?: Record<string, string>;
    slos: {
      name: string;
      objective: number;
      labels?: Record<string, string>;
      alerting: { name: string; annotations?: Record<string, string> };
    }[];
  };
}

export const readSpec = (file: string): SloSpec => parse(readFileSync(file, 'utf8')) as SloSpec;

/** Every SLO of every spec, with Sloth's id (`<service>-<slo>`) and objective as a ratio. */
export function slos(): { id: string; file: string; alert: string; objective: number }[] {
  return specFiles().flatMap((file) => {
    const s = readSpec(file);
    return s.spec.slos.map((o) => ({
      id: `${s.spec.service}-${o.name}`,
      file,
      alert: o.alerting.name,
      objective: Number((Number(o.objective) / 100).toFixed(6)),
    }));
  });
}

/** What Sloth generates from one spec file (the text of the PrometheusRule). */
export function generate(spec: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mdp-sloth-'));
  try {
    const out = path.join(dir, 'out.yaml');
    const r = run('sloth', ['generate', '--input', spec, '--out', out], dir);
    if (r.status !== 0) throw new Error(`${r.command} failed:\n${r.output}`);
    return readFileSync(out, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const generatedFile = (spec: string): string => path.join(rulesDir(), path.basename(spec));

/** The spec files whose checked-in rules differ from a fresh generation. */
export function stale(): string[] {
  return specFiles().filter((spec) => {
    let current = '';
    try {
      current = readFileSync(generatedFile(spec), 'utf8');
    } catch {
      return true;
    }
    return current !== generate(spec);
  });
}

export function writeAll(): string[] {
  return specFiles().map((spec) => {
    writeFileSync(generatedFile(spec), generate(spec));
    return generatedFile(spec);
  });
}
