#!/usr/bin/env node
/**
 * npm run validate:k8s — renders every overlay with `kubectl kustomize`, checks the render
 * is deterministic, validates every document strictly against its schema, and runs the
 * policies. Exit 1 on any problem; each problem prints its file, resource and rule.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from './cli-args.js';
import { formatViolation, RULES, TARGETS, validateRepo } from './validate.js';

const args = parseArgs(
  process.argv.slice(2),
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..'),
);
const repoRoot = path.resolve(args.root);
const targets = args.targets.length > 0 ? args.targets : TARGETS;
const started = performance.now();
const reports = await validateRepo(repoRoot, targets);
let problems = 0;
for (const r of reports) {
  for (const p of r.problems) process.stdout.write(`\n${formatViolation(p)}\n`);
  problems += r.problems.length;
}
process.stdout.write('\n');
for (const r of reports) {
  process.stdout.write(
    `${r.problems.length === 0 ? 'ok  ' : 'FAIL'} ${r.target}: ${r.documents} documents, ${r.deterministic ? 'deterministic' : 'NOT deterministic'}, ${r.problems.length} problem(s)\n`,
  );
}
const seconds = ((performance.now() - started) / 1000).toFixed(2);
process.stdout.write(
  `validate:k8s: ${reports.length} renders, ${reports.reduce((n, r) => n + r.documents, 0)} documents, schema + ${RULES.length} rules, ${problems} problem(s) in ${seconds}s\n`,
);
process.exit(problems === 0 ? 0 : 1);
