#!/usr/bin/env node
// Runs every test file of the repo with Node's built-in test runner (Node 20 takes no globs):
// unit tests next to the code (*.test.ts), integration tests in services/*/test and
// packages/*/test, end-to-end tests in tests/. Extra arguments filter by path substring.
//   npm test                      all of them
//   npm test -- platform/src      only the files whose path contains "platform/src"
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SKIP = new Set(['node_modules', 'dist', '.git', '.local']);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) walk(full, out);
    else if (/\.test\.(ts|mjs)$/.test(name)) out.push(path.relative(root, full));
  }
  return out;
}

const roots = ['packages', 'services', 'tests', 'scripts'].filter((d) => {
  try {
    return statSync(path.join(root, d)).isDirectory();
  } catch {
    return false;
  }
});
const filters = process.argv.slice(2);
const files = roots
  .flatMap((d) => walk(path.join(root, d), []))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}

const args = [
  '--conditions=mdp-source',
  '--import',
  'tsx',
  '--test',
  `--test-concurrency=${process.env.TEST_CONCURRENCY ?? '2'}`,
  ...files,
];
const child = spawn(process.execPath, args, {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, NODE_ENV: 'test' },
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
