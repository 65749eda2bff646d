/**
 * shellcheck -S warning on every shell script of scripts/ (by extension or by shebang), sourced
 * files followed (-x). Fails (never skips) when shellcheck is missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function shellScripts(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) shellScripts(full, out);
    else if (
      name.endsWith('.sh') ||
      /^#!.*\b(ba|da|k)?sh\b/.test(readFileSync(full, 'utf8').split('\n')[0] ?? '')
    ) {
      out.push(full);
    }
  }
  return out;
}

describe('shell scripts', () => {
  const scripts = shellScripts(path.join(ROOT, 'scripts'));

  it('finds the scripts (build-images.sh among them)', () => {
    assert.ok(scripts.some((s) => s.endsWith('scripts/build-images.sh')));
  });

  it('shellcheck -S warning passes on every script in scripts/', () => {
    const probe = spawnSync('shellcheck', ['--version']);
    assert.equal(probe.error, undefined, 'shellcheck is missing: run scripts/install-tools.d/images.sh');
    const r = spawnSync(
      'shellcheck',
      ['-S', 'warning', '-x', ...scripts.map((s) => path.relative(ROOT, s))],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('every script is executable or a sourced library', () => {
    const notExec = scripts.filter(
      (s) => !(statSync(s).mode & 0o111) && !s.includes(`${path.sep}lib${path.sep}`),
    );
    assert.deepEqual(notExec, []);
  });
});
