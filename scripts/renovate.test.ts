/**
 * renovate.json (issue 15, finding 9) judged by the pinned Renovate (tools/renovate, linked into
 * .tools/bin by scripts/install-tools.sh): renovate-config-validator --strict accepts it, and
 * rejects a copy with an unknown option (proof that the validator really runs). Offline.
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

test('renovate-config-validator rejects a broken copy', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mdp-renovate-'));
  try {
    const config = JSON.parse(readFileSync(path.join(root, 'renovate.json'), 'utf8'));
    config.packageRules.push({ matchManagers: ['npm'], notARenovateOption: true });
    writeFileSync(path.join(dir, 'renovate.json'), JSON.stringify(config));
    const res = validate(dir);
    assert.notEqual(res.status, 0, `${res.stdout}${res.stderr}`);
    assert.match(res.stdout + res.stderr, /notARenovateOption/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
