#!/usr/bin/env node
// `npm test`: Node's built-in test runner over every test file of the repo — unit tests next to
// the code (*.test.ts), integration tests in services/*/test and packages/*/test, end-to-end
// tests in tests/. `node --test` expands the glob itself (and skips node_modules).
//   npm test                              all of them (after the set-up below)
//   npm test -- platform/src journey      only the test files whose path contains one of these
//   npm run test:unit                     the unit tests only (*.test.ts under packages/*/src and
//                                         services/*/src), with every datastore address pointing
//                                         nowhere: a unit test that needs one fails
import { spawn, spawnSync } from 'node:child_process';
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
const UNIT = '{packages,services}/*/src/**/*.test.ts';

const unit = process.argv.includes('--unit');

// The README's test line does its own set-up on a fresh machine: PostgreSQL, Redis and RabbitMQ
// checked (started when down), Debian packages and the Go engines installed when missing. Both
// scripts are idempotent and take seconds when everything is there. The unit run needs none of
// it; MDP_SKIP_SETUP=1 skips it (for a caller that has just run them, e.g. .ci/run).
if (!unit && process.env.MDP_SKIP_SETUP !== '1') {
  for (const script of ['scripts/ensure-services.sh', 'scripts/install-tools.sh']) {
    const setup = spawnSync('bash', [script], { stdio: 'inherit' });
    if (setup.status !== 0) {
      console.error(`run-tests: ${script} failed (exit ${setup.status ?? setup.signal})`);
      process.exit(1);
    }
  }
}
const filters = process.argv.slice(2).filter((a) => a !== '--unit');
let targets = [unit ? UNIT : ALL];
// The longest suites first (CI's durations, seconds, 2 at a time): started last, one of them alone
// at the end would set the run's length (CI once ran the fault suite last: 926 s).
const LONGEST_FIRST = [
  'tests/containers/images.test.ts', // 230
  'tests/e2e/promotion.test.ts', // 226
  'packages/k8s-validate/test/server.test.ts', // 200
  'packages/rehearsal/test/rehearsal.test.ts', // 182
  'packages/k8s-validate/test/traffic.test.ts', // 121
  'tests/drills/data-tier.test.ts', // 99
  'tests/e2e/observability.test.ts', // 91
  'tests/faults/faults.test.ts', // 89
  'tests/security/trivy.test.ts', // 81
  'tests/e2e/start.test.ts', // 47
  'packages/cluster/test/cluster.test.ts', // 37
  'tests/e2e/journey.test.ts', // 36
];
const rank = (file) => {
  const i = LONGEST_FIRST.indexOf(file);
  return i < 0 ? LONGEST_FIRST.length : i;
};
if (!unit && !filters.length) {
  targets = fs
    .globSync(ALL, { exclude: (name) => name === 'node_modules' || name === 'dist' })
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const missing = LONGEST_FIRST.filter((f) => !targets.includes(f));
  if (missing.length)
    process.stdout.write(`run-tests: not found, drop from LONGEST_FIRST: ${missing.join(', ')}\n`);
}
if (filters.length) {
  targets = fs
    .globSync(unit ? UNIT : ALL, { exclude: (name) => name === 'node_modules' || name === 'dist' })
    .filter((file) => filters.some((f) => file.includes(f)))
    .sort();
  if (!targets.length) {
    console.error(`run-tests: no test file matches ${filters.join(', ')}`);
    process.exit(1);
  }
}

/** For the unit run: PostgreSQL, Redis and RabbitMQ at addresses where nothing listens. */
const NO_DATASTORES = {
  TEST_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
  TEST_REDIS_URL: 'redis://127.0.0.1:1',
  TEST_AMQP_URL: 'amqp://nobody:none@127.0.0.1:1',
  TEST_RABBIT_API: 'http://nobody:none@127.0.0.1:1',
  DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
  REDIS_URL: 'redis://127.0.0.1:1',
  AMQP_URL: 'amqp://nobody:none@127.0.0.1:1',
};

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
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test', ...(unit ? NO_DATASTORES : {}) } },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
