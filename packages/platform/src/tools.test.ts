import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot, toolPath } from './tools.js';

test('repoRoot is the folder with the lockfile; toolPath falls back to PATH', () => {
  assert.ok(existsSync(path.join(repoRoot(), 'package-lock.json')));
  assert.match(toolPath('sh'), /\/sh$/);
});

test('a missing engine is an error that names the install script', () => {
  assert.throws(
    () => toolPath('no-such-engine-mdp'),
    /no-such-engine-mdp is missing .*scripts\/install-tools\.sh/,
  );
});
