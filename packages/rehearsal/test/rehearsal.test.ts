/**
 * The release rehearsal's short forms: all six scenarios on one environment (one cluster, one
 * controller, one Prometheus, one HAProxy, one set of service processes), durations × 0.2 of
 * production's (the rehearsal-only patch each run prints). What is asserted is the issue's
 * "Done when"; the figures (detect, rollback, whole run) are printed, not asserted.
 * The full forms (× 0.5; production's timings with `npm run rehearse -- all --scale 1`): `npm run rehearse:all`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Environment, startEnvironment } from '../src/environment.js';
import { type Rehearsal, rehearse } from '../src/rehearse.js';
import { table } from '../src/report.js';
import { SCENARIOS } from '../src/scenarios.js';

const SCALE = 0.2;
const RATE = 15;
/**
 * 1 s, not the PodMonitor's 15 s × 0.2 = 3 s: each series (route, status) needs two samples in the
 * window before rate() sees it, and at × 0.2 three-second scrapes left the good canary's first two
 * measurements empty on a loaded machine (the production finding of deployment-strategies/README.md).
 */
const SCRAPE = 1;
let env: Environment;
const started = performance.now();

async function run(name: string, diagnostic: (m: string) => void): Promise<Rehearsal> {
  const s = SCENARIOS[name];
  assert.ok(s, name);
  const r = await rehearse(env, s, { rate: RATE });
  diagnostic(table(s, r));
  diagnostic(JSON.stringify(r.line));
  assert.equal(r.line.engine, 'argo-rollouts');
  assert.equal(r.line.scenario, name);
  return r;
}

/** The bad version has no traffic at the end, and none was sent to it once its weight was 0. */
function backToNoTraffic(r: Rehearsal) {
  assert.equal(typeof r.line.rollbackSeconds, 'number', 'rollbackSeconds');
  assert.equal(r.requestsAfterNoTraffic, 0, 'requests to the bad version after its weight went to 0');
}

describe('release rehearsal, short forms (real controller, Prometheus, HAProxy, services)', {
  timeout: 900_000,
}, () => {
  before(async () => {
    env = await startEnvironment({ scale: SCALE, scrapeSeconds: SCRAPE });
  });
  after(async () => {
    await env?.stop();
    process.stdout.write(
      `# rehearsal short forms: ${((performance.now() - started) / 1000).toFixed(1)} s in all\n`,
    );
  });

  test('canary-good is promoted, the new version getting 10, 50, 100 % (±5 points) of the traffic at its steps', async (t) => {
    const r = await run('canary-good', (m) => t.diagnostic(m));
    assert.equal(r.line.outcome, 'promoted');
    assert.equal(r.finalPhase, 'Healthy');
    assert.deepEqual(
      r.line.steps.map((s) => s.setWeight),
      [10, 50, 100],
    );
    for (const s of r.line.steps) {
      assert.equal(typeof s.observedShare, 'number', `step ${s.setWeight} reached`);
      assert.ok(
        Math.abs((s.observedShare as number) - s.setWeight) <= 5,
        `observed ${s.observedShare} at ${s.setWeight}`,
      );
    }
    assert.ok(
      r.measurements.some((m) => m.phase === 'Successful'),
      'the analysis measured and passed',
    );
  });

  for (const [name, metric] of [
    ['canary-errors', /^success-rate/],
    ['canary-latency', /^latency-p99/],
  ] as const)
    test(`${name} is aborted by its first analysis, the bad version back to no traffic`, async (t) => {
      const r = await run(name, (m) => t.diagnostic(m));
      assert.equal(r.line.outcome, 'aborted');
      assert.equal(r.finalPhase, 'Degraded');
      // One AnalysisRun (the background analysis from the first step), failed on the metric the
      // fault breaks.
      assert.equal(new Set(r.measurements.map((m) => m.run)).size, 1, JSON.stringify(r.measurements));
      assert.ok(
        r.measurements.some((m) => metric.test(m.metric) && m.phase === 'Failed'),
        JSON.stringify(r.measurements),
      );
      assert.equal(typeof r.line.detectSeconds, 'number', 'detectSeconds');
      backToNoTraffic(r);
      assert.ok(r.newVersionRequests > 0, 'the bad version served production traffic before the abort');
    });

  test('bluegreen-good switches under load with no failed request', async (t) => {
    const r = await run('bluegreen-good', (m) => t.diagnostic(m));
    assert.equal(r.line.outcome, 'promoted');
    assert.equal(r.line.failedRequests, 0);
    assert.equal(r.load.requests > 0, true);
    const [preview, switched] = r.line.steps;
    assert.equal(preview?.observedShare, 0, 'no production request reached the preview');
    assert.ok(
      Math.abs((switched?.observedShare ?? 0) - 100) <= 5,
      `after the switch: ${switched?.observedShare}`,
    );
    assert.ok(r.measurements.some((m) => m.metric === 'smoke' && m.phase === 'Successful'));
    assert.equal(r.scripts.length, 2, "the release, then the person's promotion");
  });

  test('bluegreen-bad-preview never sends production traffic to the bad version', async (t) => {
    const r = await run('bluegreen-bad-preview', (m) => t.diagnostic(m));
    assert.equal(r.line.outcome, 'aborted');
    assert.equal(r.newVersionRequests, 0, 'production requests served by the bad preview');
    assert.ok(r.measurements.some((m) => m.metric === 'smoke' && m.phase === 'Failed'));
    assert.equal(r.scripts.length, 1, 'nothing to promote');
    backToNoTraffic(r);
  });

  test('bluegreen-bad-after-switch switches back', async (t) => {
    const r = await run('bluegreen-bad-after-switch', (m) => t.diagnostic(m));
    assert.equal(r.line.outcome, 'rolled-back');
    assert.ok(
      r.measurements.some((m) => m.metric === 'smoke' && m.phase === 'Successful'),
      'smoke passed',
    );
    assert.ok(r.measurements.some((m) => /^success-rate/.test(m.metric) && m.phase === 'Failed'));
    assert.equal(r.scripts.at(-1)?.exit, 4, 'deploy-blue-green.sh --promote-only: aborted by the controller');
    assert.equal(r.line.steps.length, 3, 'preview, switched, switched back');
    backToNoTraffic(r);
  });
});
