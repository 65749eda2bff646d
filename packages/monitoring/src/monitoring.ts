/**
 * monitoring/ as files: the PrometheusRule objects (hand-written in monitoring/prometheus, generated
 * by Sloth in monitoring/slo/rules), their promtool tests, the Sloth specs and the Alertmanager
 * config. The checks run the real engines (promtool, amtool, sloth); nothing here re-implements them.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot, toolPath } from '@mdp/platform/tools';
import { parse, parseAllDocuments, stringify } from 'yaml';

export const root = (): string => path.join(repoRoot(), 'monitoring');

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Rule[];
}
export interface RuleFile {
  /** Path from the repository root. */
  file: string;
  /** File name; promtool tests name their rule files by it. */
  name: string;
  groups: RuleGroup[];
}

const yamlFiles = (dir: string): string[] =>
  (existsSync(dir) ? readdirSync(dir) : [])
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .sort()
    .map((f) => path.join(dir, f));

/** The folders whose *.yaml are PrometheusRule objects. */
export const RULE_DIRS = ['prometheus', 'slo/rules'];

/** Every PrometheusRule file of monitoring/, with its spec's groups. */
export function ruleFiles(): RuleFile[] {
  const out: RuleFile[] = [];
  for (const dir of RULE_DIRS) {
    for (const file of yamlFiles(path.join(root(), dir))) {
      const docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS());
      const rel = path.relative(repoRoot(), file);
      if (docs.length !== 1)
        throw new Error(`${rel}: one PrometheusRule per file, found ${docs.length} documents`);
      const doc = docs[0] as { apiVersion?: string; kind?: string; spec?: { groups?: RuleGroup[] } };
      if (doc.apiVersion !== 'monitoring.coreos.com/v1' || doc.kind !== 'PrometheusRule')
        throw new Error(`${rel}: not a monitoring.coreos.com/v1 PrometheusRule`);
      out.push({ file: rel, name: path.basename(file), groups: doc.spec?.groups ?? [] });
    }
  }
  return out;
}

export interface AlertRule extends Rule {
  alert: string;
  file: string;
  group: string;
}

export function alertRules(files = ruleFiles()): AlertRule[] {
  return files.flatMap((f) =>
    f.groups.flatMap((g) =>
      g.rules
        .filter((r) => r.alert)
        .map((r) => ({ ...r, alert: r.alert as string, file: f.file, group: g.name })),
    ),
  );
}

export function recordingRules(files = ruleFiles()): (Rule & { record: string; file: string })[] {
  return files.flatMap((f) =>
    f.groups.flatMap((g) =>
      g.rules.filter((r) => r.record).map((r) => ({ ...r, record: r.record as string, file: f.file })),
    ),
  );
}

export interface Run {
  status: number;
  output: string;
  command: string;
}

/** Runs a program to completion; output is stdout and stderr together. */
export function run(program: string, args: string[], cwd: string): Run {
  const res = spawnSync(toolPath(program), args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (res.error) throw res.error;
  return {
    status: res.status ?? 1,
    output: `${res.stdout ?? ''}${res.stderr ?? ''}`,
    command: `${program} ${args.join(' ')}`,
  };
}

/** A temporary folder holding every rule file as a plain Prometheus rule file (the PrometheusRule's spec). */
export function stageRules(files = ruleFiles()): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'mdp-rules-'));
  const names = new Set<string>();
  for (const f of files) {
    if (names.has(f.name))
      throw new Error(`two rule files named ${f.name}: promtool tests name them by file name`);
    names.add(f.name);
    writeFileSync(path.join(dir, f.name), stringify({ groups: f.groups }));
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `promtool check rules` on every rule file. */
export function checkRules(dir: string, files = ruleFiles()): Run {
  return run('promtool', ['check', 'rules', ...files.map((f) => f.name)], dir);
}

/** The hand-written promtool test files (monitoring/prometheus/tests/*.test.yaml). */
export function promtoolTestFiles(): string[] {
  return yamlFiles(path.join(root(), 'prometheus', 'tests'));
}

/** `promtool test rules` on test files (copied next to the staged rule files). */
export function testRules(dir: string, tests: { name: string; text: string }[]): Run {
  for (const t of tests) writeFileSync(path.join(dir, t.name), t.text);
  return run('promtool', ['test', 'rules', ...tests.map((t) => t.name)], dir);
}

export interface PromtoolTest {
  rule_files: string[];
  tests: {
    input_series?: { series: string; values: string }[];
    alert_rule_test?: { eval_time: string; alertname: string; exp_alerts: unknown[] }[];
  }[];
}

/** How many alert cases of each alert fire (non-empty exp_alerts) and stay silent (empty). */
export function alertCases(tests: PromtoolTest[]): Map<string, { fires: number; silent: number }> {
  const cases = new Map<string, { fires: number; silent: number }>();
  for (const t of tests)
    for (const group of t.tests)
      for (const c of group.alert_rule_test ?? []) {
        const n = cases.get(c.alertname) ?? { fires: 0, silent: 0 };
        if (c.exp_alerts.length) n.fires++;
        else n.silent++;
        cases.set(c.alertname, n);
      }
  return cases;
}

export const readTest = (file: string): { name: string; text: string; parsed: PromtoolTest } => {
  const text = readFileSync(file, 'utf8');
  return { name: path.basename(file), text, parsed: parse(text) as PromtoolTest };
};

export function copyInto(dir: string, file: string): void {
  mkdirSync(dir, { recursive: true });
  copyFileSync(file, path.join(dir, path.basename(file)));
}
