#!/usr/bin/env node
// `npm test`: Node's built-in test runner over every test file of the repo — unit tests next to
// the code (*.test.ts), integration tests in services/*/test and packages/*/test, end-to-end
// tests in tests/. `node --test` expands the glob itself (and skips node_modules).
//   npm test                              all of them
//   npm test -- platform/src journey      only the test files whose path contains one of these
import { spawn } from 'node:child_process';
import fs from 'node:fs';

// The tests run on the project's pinned Node.js LTS (.node-version), which `npm test` puts first
// on the PATH through the `node` devDependency.
const pinned = `v${fs.readFileSync(new URL('../.node-version', import.meta.url), 'utf8').trim()}`;
if (process.version !== pinned) {
  console.error(`run-tests: Node.js ${process.version}, the project pins ${pinned}: run it as \`npm test\``);
  process.exit(1);
}
process.stdout.write(`run-tests: Node.js ${process.version}\n`);

const ALL = '{packages,services,tests,scripts}/**/*.test.{ts,mjs}';

const filters = process.argv.slice(2);
let targets = [ALL];
if (filters.length) {
  targets = fs
    .globSync(ALL, { exclude: (name) => name === 'node_modules' || name === 'dist' })
    .filter((file) => filters.some((f) => file.includes(f)))
    .sort();
  if (!targets.length) {
    console.error(`run-tests: no test file matches ${filters.join(', ')}`);
    process.exit(1);
  }
}

const child = spawn(
  process.execPath,
  [
    '--conditions=mdp-source',
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${process.env.TEST_CONCURRENCY ?? '2'}`,
    ...targets,
  ],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
