/**
 * The step scripts of build-images.yml's digests path, run as the workflow runs them (bash, jq,
 * GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files): image-digest.sh per service, merge-digests.sh,
 * and the result is a digests file that promote.ts takes. Also the usage guards of the others.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { repoRoot } from '@mdp/platform/tools';
import { parseDigests } from './promote.js';

const ROOT = repoRoot();
const work = mkdtempSync(path.join(tmpdir(), 'mdp-steps-'));
const services = (
  JSON.parse(
    execFileSync(path.join(ROOT, 'scripts/build-images.sh'), ['--list', '--json'], { encoding: 'utf8' }),
  ).images as { service: string; name: string }[]
).map((i) => ({ ...i, digest: `sha256:${i.service.length.toString(16).padStart(2, '0').repeat(32)}` }));

function step(script: string, args: string[], extra: Record<string, string> = {}) {
  const output = path.join(work, `output-${script}`);
  const summary = path.join(work, `summary-${script}`);
  writeFileSync(output, '');
  writeFileSync(summary, '');
  const r = spawnSync(path.join(ROOT, 'scripts/pipeline', script), args, {
    encoding: 'utf8',
    env: {
      ...process.env,
      GITHUB_OUTPUT: output,
      GITHUB_STEP_SUMMARY: summary,
      GITHUB_RUN_ID: '77',
      ...extra,
    },
  });
  return { ...r, output: readFileSync(output, 'utf8'), summary: readFileSync(summary, 'utf8') };
}

describe('pipeline step scripts', () => {
  after(() => rmSync(work, { recursive: true, force: true }));

  test('image-digest.sh per service + merge-digests.sh = a digests file for npm run promote', () => {
    const dir = path.join(work, 'digests');
    for (const s of services) {
      const r = step('image-digest.sh', [dir, s.service, s.name, s.digest]);
      assert.equal(r.status, 0, r.stderr);
    }
    const out = path.join(work, 'digests.json');
    const r = step('merge-digests.sh', [dir, out]);
    assert.equal(r.status, 0, r.stderr);
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const d = parseDigests(readFileSync(out, 'utf8'));
    assert.equal(d.commit, head);
    assert.equal(d.runId, '77');
    assert.equal(
      Date.parse(d.committedAt),
      Date.parse(execFileSync('git', ['log', '-1', '--format=%cI'], { cwd: ROOT, encoding: 'utf8' }).trim()),
    );
    assert.deepEqual(
      d.images,
      [...services].sort((a, b) => a.service.localeCompare(b.service)),
    );
    assert.deepEqual(JSON.parse(r.output.replace(/^digests=/, '')), d, 'the step output is the same file');
    assert.match(r.summary, new RegExp(`${services[0]?.name}@${services[0]?.digest}`));
  });

  test('merge-digests.sh fails when a service has no digest; image-digest.sh refuses a non-digest', () => {
    const dir = path.join(work, 'partial');
    const [first] = services;
    assert.ok(first);
    assert.equal(step('image-digest.sh', [dir, first.service, first.name, first.digest]).status, 0);
    const r = step('merge-digests.sh', [dir, path.join(work, 'partial.json')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /expected one per service/);
    const bad = step('image-digest.sh', [dir, first.service, first.name, 'sha256:abc']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /not a sha256 digest/);
  });

  test('the environment-taking scripts refuse anything but staging and production', () => {
    for (const [script, args] of [
      ['promote.sh', ['dev', '/dev/null']],
      ['wait-healthy.sh', ['mdp-staging']],
      ['verify.sh', ['prod', 'http://127.0.0.1:1']],
      ['rollback.sh', ['dev', 'reason']],
      ['release.sh', ['qa', '/dev/null']],
      ['summary.sh', ['']],
    ] as const) {
      const r = step(script, [...args]);
      assert.equal(r.status, 1, `${script}: ${r.stderr}`);
      assert.match(r.stderr, /must be staging or production/, script);
    }
    const k = step('kubeconfig.sh', [], { KUBECONFIG_B64: '' });
    assert.equal(k.status, 1);
    assert.match(k.stderr, /KUBECONFIG_B64 is empty/);
  });
});
