/**
 * scripts/deploy-canary.sh, deploy-blue-green.sh and rollback.sh against a recording `kubectl` on
 * PATH: the exact argument sequence each script sends (kubectl and the Argo Rollouts plugin) and
 * the exit code it ends with, per situation the stub plays (status lines, Rollout fields). What
 * the controller does with those calls is not in question here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NS = 'mdp-staging';
const DIGEST = `ghcr.io/mdp-example/order-service@sha256:${'ab12'.repeat(16)}`;
const UG_DIGEST = `ghcr.io/mdp-example/user-service@sha256:${'cd34'.repeat(16)}`;

/** One answer of the stub: args (joined by spaces) matching `match` get `outs` in turn (the last repeats). */
interface Rule {
  match: string;
  outs?: string[];
  code?: number;
  /** Per answer, like outs (the last repeats); else `code` for all. */
  codes?: number[];
}

const STUB = `#!/usr/bin/env node
const fs = require('node:fs');
const dir = process.env.STUB_DIR;
const args = process.argv.slice(2);
fs.appendFileSync(dir + '/calls.log', JSON.stringify(args) + '\\n');
const rules = JSON.parse(fs.readFileSync(dir + '/rules.json', 'utf8'));
const line = args.join(' ');
for (const [i, r] of rules.entries()) {
  if (!new RegExp(r.match).test(line)) continue;
  const state = dir + '/state-' + i;
  const n = fs.existsSync(state) ? Number(fs.readFileSync(state, 'utf8')) : 0;
  fs.writeFileSync(state, String(n + 1));
  const outs = r.outs ?? [''];
  process.stdout.write(outs[Math.min(n, outs.length - 1)] + '\\n');
  process.exit(r.codes ? r.codes[Math.min(n, r.codes.length - 1)] : (r.code ?? 0));
}
process.stderr.write('stub kubectl: no rule for ' + line + '\\n');
process.exit(1);
`;

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function run(script: string, args: string[], rules: Rule[]) {
  const dir = mkdtempSync(path.join(tmpdir(), 'rollouts-stub-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'kubectl'), STUB);
  chmodSync(path.join(dir, 'kubectl'), 0o755);
  writeFileSync(path.join(dir, 'rules.json'), JSON.stringify(rules));
  writeFileSync(path.join(dir, 'calls.log'), '');
  const res = spawnSync('bash', [path.join(ROOT, 'scripts', script), ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      PATH: `${dir}:${path.dirname(process.execPath)}:${process.env.PATH}`,
      STUB_DIR: dir,
      ROLLOUT_POLL_SECONDS: '0',
      MDP_NAMESPACE: '',
    },
  });
  const calls = readFileSync(path.join(dir, 'calls.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as string[]).join(' '));
  return { code: res.status, out: res.stdout, err: res.stderr, calls };
}

/** The calls without the repeated status reads (their count depends on the stub's sequence only). */
const changes = (calls: string[]) => calls.filter((c) => !/ status | get rollout /.test(` ${c} `));

const canaryRollout: Rule = {
  match: String.raw`get rollout \S+ -o jsonpath=\{\.spec\.strategy\.canary\}`,
  outs: ['{"steps":[{"setWeight":10}]}|'],
};
const blueGreenRollout: Rule = {
  match: String.raw`get rollout \S+ -o jsonpath=\{\.spec\.strategy\.canary\}`,
  outs: ['|{"activeService":"user-service"}'],
};
/** Status answers as the plugin gives them with --watch=false: an aborted release prints
 *  "Degraded" and exits 1 with the reason as an error (here on the same stream). */
const status = (...outs: string[]): Rule => ({
  match: 'argo rollouts status',
  outs: outs.map((o) =>
    o.startsWith('Degraded - ')
      ? `Degraded\nError: The rollout is in a degraded state with message: ${o.slice('Degraded - '.length)}`
      : o,
  ),
  codes: outs.map((o) => (o.startsWith('Degraded') ? 1 : 0)),
});
const ok = (match: string): Rule => ({ match, outs: [''] });

describe('release scripts (recording kubectl)', () => {
  for (const script of ['deploy-canary.sh', 'deploy-blue-green.sh', 'rollback.sh']) {
    it(`${script} --help documents the exit codes and calls nothing`, () => {
      const r = run(script, ['--help'], []);
      assert.equal(r.code, 0, r.err);
      for (const code of ['0', '1', '2', '3', '4', '5'])
        assert.match(r.out, new RegExp(`^ {2}${code} {2}\\S`, 'm'));
      assert.match(r.out, /--dry-run/);
      assert.deepEqual(r.calls, []);
    });
  }

  it('deploy-canary: an image by tag is refused (2) before any call', () => {
    const r = run(
      'deploy-canary.sh',
      ['-n', NS, 'order-service', 'ghcr.io/mdp-example/order-service:1.2.3'],
      [],
    );
    assert.equal(r.code, 2);
    assert.match(r.err, /pinned by digest/);
    assert.deepEqual(r.calls, []);
  });

  it('deploy-canary: no namespace is a usage error (2)', () => {
    const r = run('deploy-canary.sh', ['order-service', DIGEST], []);
    assert.equal(r.code, 2);
    assert.match(r.err, /--namespace is required/);
  });

  it('deploy-canary: a missing Rollout (3), a blue-green Rollout (3)', () => {
    const missing = run(
      'deploy-canary.sh',
      ['-n', NS, 'order-service', DIGEST],
      [{ match: 'get rollout', outs: ['Error from server (NotFound)'], code: 1 }],
    );
    assert.equal(missing.code, 3, missing.err);
    const bg = run('deploy-canary.sh', ['-n', NS, 'user-service', UG_DIGEST], [blueGreenRollout]);
    assert.equal(bg.code, 3, bg.err);
    assert.match(bg.err, /not a canary/);
    assert.deepEqual(changes(bg.calls), []);
  });

  it('deploy-canary: sets the image by digest, follows the steps to Healthy (0)', () => {
    const r = run(
      'deploy-canary.sh',
      ['-n', NS, 'order-service', DIGEST],
      [
        canaryRollout,
        ok('argo rollouts set image'),
        status(
          'Progressing - more replicas need to be updated',
          'Paused - CanaryPauseStep',
          'Progressing - more replicas need to be updated',
          'Paused - CanaryPauseStep',
          'Healthy',
        ),
      ],
    );
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.calls, [
      `get rollout order-service -o jsonpath={.spec.strategy.canary}{"|"}{.spec.strategy.blueGreen} -n ${NS}`,
      `argo rollouts set image order-service order-service=${DIGEST} -n ${NS}`,
      ...Array(5).fill(`argo rollouts status order-service --watch=false -n ${NS}`),
    ]);
    // Progress: each change of status printed once, with the elapsed seconds.
    assert.equal(r.out.match(/Paused - CanaryPauseStep/g)?.length, 2);
    assert.match(r.out, /^\[ *\d+s\] order-service: Healthy$/m);
  });

  it('deploy-canary: an analysis failure ends aborted (4), the script changes nothing more', () => {
    const r = run(
      'deploy-canary.sh',
      ['-n', NS, 'order-service', DIGEST],
      [
        canaryRollout,
        ok('argo rollouts set image'),
        status(
          'Progressing - more replicas need to be updated',
          'Degraded - RolloutAborted: Rollout aborted update to revision 4: Metric "success-rate" assessed Failed',
        ),
      ],
    );
    assert.equal(r.code, 4, r.err);
    assert.match(
      r.err,
      /aborted by the controller: Degraded Error: The rollout is in a degraded state with message: RolloutAborted/,
    );
    assert.deepEqual(changes(r.calls), [
      `argo rollouts set image order-service order-service=${DIGEST} -n ${NS}`,
    ]);
  });

  it('deploy-canary: a timeout aborts the release (5); --no-abort leaves it', () => {
    const rules = [
      canaryRollout,
      ok('argo rollouts set image'),
      ok('argo rollouts abort'),
      status('Paused - CanaryPauseStep'),
    ];
    const r = run('deploy-canary.sh', ['-n', NS, '--timeout', '0', 'order-service', DIGEST], rules);
    assert.equal(r.code, 5, r.err);
    assert.deepEqual(changes(r.calls), [
      `argo rollouts set image order-service order-service=${DIGEST} -n ${NS}`,
      `argo rollouts abort order-service -n ${NS}`,
    ]);
    const left = run(
      'deploy-canary.sh',
      ['-n', NS, '--timeout', '0', '--no-abort', 'order-service', DIGEST],
      rules,
    );
    assert.equal(left.code, 5, left.err);
    assert.deepEqual(changes(left.calls), [
      `argo rollouts set image order-service order-service=${DIGEST} -n ${NS}`,
    ]);
  });

  it('deploy-canary --dry-run: prints the change, makes none, does not wait', () => {
    const r = run(
      'deploy-canary.sh',
      ['-n', NS, '--dry-run', '--container', 'app', 'order-service', DIGEST],
      [canaryRollout],
    );
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      new RegExp(
        `^dry-run: kubectl argo rollouts set image order-service app=${DIGEST.replace(/[.]/g, '\\.')} -n ${NS}$`,
        'm',
      ),
    );
    assert.deepEqual(changes(r.calls), []);
    assert.ok(!r.calls.some((c) => c.includes('status')));
  });

  it('deploy-blue-green: automatic promotion (dev, staging) waits for Healthy (0)', () => {
    const r = run(
      'deploy-blue-green.sh',
      ['-n', NS, 'user-service', UG_DIGEST],
      [
        blueGreenRollout,
        ok('argo rollouts set image'),
        status('Progressing - active service cutover pending', 'Healthy'),
      ],
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /released: user-service/);
    assert.deepEqual(changes(r.calls), [
      `argo rollouts set image user-service user-service=${UG_DIGEST} -n ${NS}`,
    ]);
  });

  it('deploy-blue-green: manual promotion (production) stops once the preview passed its analysis (0), promoting nothing', () => {
    const r = run(
      'deploy-blue-green.sh',
      ['-n', 'mdp-production', 'user-service', UG_DIGEST],
      [
        blueGreenRollout,
        ok('argo rollouts set image'),
        status('Progressing - waiting for preview', 'Paused - BlueGreenPause'),
        { match: 'prePromotionAnalysisRunStatus', outs: ['Running', 'Running', 'Successful'] },
      ],
    );
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.err,
      /awaiting promotion: scripts\/deploy-blue-green.sh -n mdp-production --promote-only user-service/,
    );
    assert.equal(r.calls.filter((c) => c.includes('prePromotionAnalysisRunStatus')).length, 3);
    assert.ok(!r.calls.some((c) => c.includes('promote')));
  });

  it('deploy-blue-green --promote: promotes after the pre-promotion analysis, then waits for Healthy (0)', () => {
    const r = run(
      'deploy-blue-green.sh',
      ['-n', NS, '--promote', 'user-service', UG_DIGEST],
      [
        blueGreenRollout,
        ok('argo rollouts set image'),
        ok('argo rollouts promote'),
        status(
          'Paused - BlueGreenPause',
          'Paused - BlueGreenPause',
          'Progressing - post-promotion analysis',
          'Healthy',
        ),
        { match: 'prePromotionAnalysisRunStatus', outs: ['Successful'] },
      ],
    );
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(changes(r.calls), [
      `argo rollouts set image user-service user-service=${UG_DIGEST} -n ${NS}`,
      `argo rollouts promote user-service -n ${NS}`,
    ]);
    assert.match(r.err, /promoted: user-service/);
  });

  it('deploy-blue-green: a failed smoke Job before promotion ends aborted (4), never promoted', () => {
    const r = run(
      'deploy-blue-green.sh',
      ['-n', NS, '--promote', 'user-service', UG_DIGEST],
      [
        blueGreenRollout,
        ok('argo rollouts set image'),
        status(
          'Progressing',
          'Degraded - RolloutAborted: Metric "smoke" assessed Failed due to failed (1) > failureLimit (0)',
        ),
      ],
    );
    assert.equal(r.code, 4, r.err);
    assert.ok(!r.calls.some((c) => c.includes('promote')));
  });

  it('deploy-blue-green --promote-only: a post-promotion failure ends aborted (4); a canary Rollout is refused (3)', () => {
    const r = run(
      'deploy-blue-green.sh',
      ['-n', NS, '--promote-only', 'user-service'],
      [
        blueGreenRollout,
        ok('argo rollouts promote'),
        status(
          'Progressing - post-promotion analysis',
          'Degraded - RolloutAborted: Metric "success-rate" assessed Failed',
        ),
      ],
    );
    assert.equal(r.code, 4, r.err);
    assert.deepEqual(changes(r.calls), [`argo rollouts promote user-service -n ${NS}`]);
    const canary = run(
      'deploy-blue-green.sh',
      ['-n', NS, '--promote-only', 'order-service'],
      [canaryRollout],
    );
    assert.equal(canary.code, 3);
  });

  const fields = (stable: string, current: string, revision: string): Rule[] => [
    { match: String.raw`jsonpath=\{\.status\.stableRS\}`, outs: [stable] },
    { match: String.raw`jsonpath=\{\.status\.currentPodHash\}`, outs: [current] },
    { match: 'io/revision', outs: [revision] },
  ];

  it('rollback: a release in flight is aborted and the abort awaited (0)', () => {
    const r = run(
      'rollback.sh',
      ['-n', NS, 'order-service'],
      [
        canaryRollout,
        ...fields('6d4f9c7b8', '7f8e9d0c1', '4'),
        ok('argo rollouts abort'),
        status('Paused - CanaryPauseStep', 'Degraded - RolloutAborted: Rollout aborted update to revision 4'),
      ],
    );
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(changes(r.calls), [`argo rollouts abort order-service -n ${NS}`]);
    assert.match(r.err, /aborted: stable 6d4f9c7b8 serves/);
  });

  it('rollback --undo: abort, then undo the spec, then Healthy (0)', () => {
    const r = run(
      'rollback.sh',
      ['-n', NS, '--undo', 'user-service'],
      [
        blueGreenRollout,
        ...fields('6d4f9c7b8', '7f8e9d0c1', '4'),
        ok('argo rollouts abort'),
        ok('argo rollouts undo'),
        status('Degraded - RolloutAborted', 'Progressing', 'Healthy'),
      ],
    );
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(changes(r.calls), [
      `argo rollouts abort user-service -n ${NS}`,
      `argo rollouts undo user-service -n ${NS}`,
    ]);
  });

  it('rollback --undo: the aborted status still read after the undo is not a failed rollback (0); a new failure is (4)', () => {
    const r = run(
      'rollback.sh',
      ['-n', NS, '--undo', 'user-service'],
      [
        blueGreenRollout,
        ...fields('6d4f9c7b8', '7f8e9d0c1', '4'),
        ok('argo rollouts abort'),
        ok('argo rollouts undo'),
        status(
          'Degraded - RolloutAborted: Rollout aborted update to revision 4',
          'Degraded - RolloutAborted: Rollout aborted update to revision 4',
          'Progressing',
          'Healthy',
        ),
      ],
    );
    assert.equal(r.code, 0, r.err);
    const failed = run(
      'rollback.sh',
      ['-n', NS, '--undo', 'user-service'],
      [
        blueGreenRollout,
        ...fields('6d4f9c7b8', '7f8e9d0c1', '4'),
        ok('argo rollouts abort'),
        ok('argo rollouts undo'),
        status(
          'Degraded - RolloutAborted: Rollout aborted update to revision 4',
          'Degraded - RolloutAborted: Rollout aborted update to revision 5',
        ),
      ],
    );
    assert.equal(failed.code, 4, failed.err);
    assert.match(failed.err, /the rollback itself failed/);
  });

  it('rollback: a finished release is undone to the previous revision (0), or to --to-revision', () => {
    const r = run(
      'rollback.sh',
      ['-n', NS, 'order-service'],
      [
        canaryRollout,
        ...fields('7f8e9d0c1', '7f8e9d0c1', '5'),
        ok('argo rollouts undo'),
        status('Progressing', 'Healthy'),
      ],
    );
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(changes(r.calls), [`argo rollouts undo order-service -n ${NS}`]);
    const to = run(
      'rollback.sh',
      ['-n', NS, '--to-revision', '3', 'order-service'],
      [canaryRollout, ...fields('7f8e9d0c1', '7f8e9d0c1', '5'), ok('argo rollouts undo'), status('Healthy')],
    );
    assert.equal(to.code, 0, to.err);
    assert.deepEqual(changes(to.calls), [`argo rollouts undo order-service --to-revision=3 -n ${NS}`]);
  });

  it('rollback: nothing to roll back to (3); not Healthy in time (5); --dry-run changes nothing', () => {
    const first = run(
      'rollback.sh',
      ['-n', NS, 'order-service'],
      [canaryRollout, ...fields('7f8e9d0c1', '7f8e9d0c1', '1')],
    );
    assert.equal(first.code, 3, first.err);
    assert.deepEqual(changes(first.calls), []);
    const slow = run(
      'rollback.sh',
      ['-n', NS, '--timeout', '0', 'order-service'],
      [
        canaryRollout,
        ...fields('7f8e9d0c1', '7f8e9d0c1', '5'),
        ok('argo rollouts undo'),
        status('Progressing'),
      ],
    );
    assert.equal(slow.code, 5, slow.err);
    const dry = run(
      'rollback.sh',
      ['-n', NS, '--dry-run', 'order-service'],
      [canaryRollout, ...fields('6d4f9c7b8', '7f8e9d0c1', '4')],
    );
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, new RegExp(`^dry-run: kubectl argo rollouts abort order-service -n ${NS}$`, 'm'));
    assert.deepEqual(changes(dry.calls), []);
  });
});
