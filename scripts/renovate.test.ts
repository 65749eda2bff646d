/**
 * renovate.json (issue 15, finding 9) judged by the pinned Renovate (tools/renovate, linked into
 * .tools/bin by scripts/install-tools.sh): renovate-config-validator --strict accepts it, and
 * rejects a copy with an unknown option, an unparsable schedule or a value of the wrong type
 * (proof that the validator really runs); Renovate's own extraction finds what the config is
 * meant to update. Offline.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot, toolPath } from '@mdp/platform/tools';

const root = repoRoot();
const validator = toolPath('renovate-config-validator');
// Renovate runs on the project's Node (the `node` devDependency first on PATH).
const env = {
  ...process.env,
  PATH: `${path.dirname(process.execPath)}:${process.env.PATH}`,
  LOG_LEVEL: 'info',
};
const validate = (cwd: string) =>
  spawnSync(validator, ['--strict'], { cwd, env, encoding: 'utf8', timeout: 60_000 });

test('renovate-config-validator --strict accepts renovate.json', () => {
  const res = validate(root);
  assert.equal(res.status, 0, `${res.stdout}${res.stderr}`);
  assert.match(res.stdout + res.stderr, /Validating renovate\.json/);
});

for (const [what, rule, named] of [
  ['an unknown option', { matchManagers: ['npm'], notARenovateOption: true }, /notARenovateOption/],
  [
    'a schedule it cannot parse',
    { matchManagers: ['npm'], schedule: ['on the blue moon'] },
    /Invalid schedule/,
  ],
  ['an option of the wrong type', { matchManagers: ['npm'], labels: 5 }, /labels` should be a list/],
  // Not caught, so not claimed: a value outside an option's set (rangeStrategy: 'sometimes') passes
  // renovate-config-validator 44 (docs/pipeline.md).
] as const)
  test(`renovate-config-validator rejects a copy with ${what}`, () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mdp-renovate-'));
    try {
      const config = JSON.parse(readFileSync(path.join(root, 'renovate.json'), 'utf8'));
      config.packageRules.push(rule);
      writeFileSync(path.join(dir, 'renovate.json'), JSON.stringify(config));
      const res = validate(dir);
      assert.notEqual(res.status, 0, `${res.stdout}${res.stderr}`);
      assert.match(res.stdout + res.stderr, named);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

test('Renovate itself finds the dependencies renovate.json is meant to update (dry run, extraction only, offline)', () => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'mdp-renovate-base-'));
  try {
    const renovate = toolPath('renovate');
    // platform=local reads the repository in the working directory (its git-tracked files);
    // dryRun=extract stops before any registry lookup. Its exit code is not the verdict: it exits
    // 1 after logging that this Node.js is newer than its engines range.
    const res = spawnSync(renovate, [], {
      cwd: root,
      env: {
        ...env,
        LOG_LEVEL: 'debug',
        LOG_FORMAT: 'json',
        RENOVATE_PLATFORM: 'local',
        RENOVATE_DRY_RUN: 'extract',
        RENOVATE_BASE_DIR: base,
        RENOVATE_ONBOARDING: 'false',
        RENOVATE_REQUIRE_CONFIG: 'optional',
      },
      encoding: 'utf8',
      timeout: 120_000,
      maxBuffer: 256 * 1024 * 1024,
    });
    const entries = `${res.stdout}\n${res.stderr}`
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const files = entries.find((e) => e.msg === 'Extracted dependencies')?.packageFiles as
      | Record<string, { packageFile: string; deps: { depName?: string }[] }[]>
      | undefined;
    assert.ok(files, `no extraction in Renovate's log: ${res.stderr.slice(-2000)}`);
    const deps = (manager: string) => (files[manager] ?? []).flatMap((f) => f.deps.map((d) => d.depName));
    // npm (root and workspaces), the Dockerfile's base images, the workflows' actions, the Go
    // engines of tools/, the manifests' images, the overlays' images, the collector's components,
    // the CloudNativePG image (our regex manager), and Node.js itself.
    for (const [manager, dep] of [
      ['npm', 'fastify'],
      ['dockerfile', 'docker.io/library/node'],
      ['github-actions', 'actions/checkout'],
      ['gomod', 'k8s.io/kubernetes'],
      ['kubernetes', 'docker.io/library/postgres'],
      ['kustomize', 'ghcr.io/mdp-example/api-gateway'],
      ['ocb', 'go.opentelemetry.io/collector/exporter/otlpexporter'],
      ['regex', 'ghcr.io/cloudnative-pg/postgresql'],
      ['nvm', 'node'],
    ] as const)
      assert.ok(
        deps(manager).includes(dep),
        `${manager} should find ${dep}: ${deps(manager).slice(0, 20).join(', ')}`,
      );
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
