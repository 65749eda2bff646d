/**
 * DORA figures of a fixed set of production records (fixtures/dora/deploy/promotions/production.jsonl:
 * 8 promotions over 7 days, 2 of them rolled back 20 and 60 minutes after they were made; lead
 * times 2, 12, 1, 4, 24, 3, 6 and 2 hours), computed by hand and asserted here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '@mdp/platform/tools';
import { dora, report, summarize } from './dora.js';
import { parseRecords, readRecords } from './records.js';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'dora');
const records = readRecords(FIXTURE, 'production');

describe('npm run dora', () => {
  test('the fixture: 8 deployments in 7 days, lead time median 3.5 h, 25 % failed, 40 min to restore', () => {
    const f = dora('production', records, { until: '2026-11-08T10:00:00Z' });
    assert.equal(f.since, '2026-11-01T10:00:00.000Z', 'from the first record');
    assert.equal(f.days, 7);
    assert.equal(f.deployments, 8);
    assert.equal(f.deploymentsPerDay, 8 / 7);
    assert.deepEqual(f.leadTimeHours, { median: 3.5, mean: 54 / 8, min: 1, max: 24 });
    assert.equal(f.failedDeployments, 2);
    assert.equal(f.changeFailureRate, 0.25);
    assert.equal(f.restores, 2);
    assert.deepEqual(f.timeToRestoreMinutes, { median: 40, mean: 40, min: 20, max: 60 });
  });

  test('a window counts only the promotions made in it', () => {
    const f = dora('production', records, { since: '2026-11-03T00:00:00Z', until: '2026-11-05T00:00:00Z' });
    assert.equal(f.days, 2);
    assert.equal(f.deployments, 2);
    assert.equal(f.deploymentsPerDay, 1);
    assert.deepEqual(f.leadTimeHours, { median: 2.5, mean: 2.5, min: 1, max: 4 });
    assert.equal(f.changeFailureRate, 0.5);
    assert.deepEqual(f.timeToRestoreMinutes, { median: 20, mean: 20, min: 20, max: 20 });
    const none = dora('production', records, {
      since: '2026-12-01T00:00:00Z',
      until: '2026-12-02T00:00:00Z',
    });
    assert.equal(none.deployments, 0);
    assert.equal(none.changeFailureRate, null, 'no deployment: no rate, not 0 %');
    assert.equal(none.leadTimeHours, null);
  });

  test('no failure: rate 0 and no time to restore; medians of odd and even counts', () => {
    const ok = records.filter((r) => r.kind !== 'rollback');
    const f = dora('production', ok, { until: '2026-11-08T10:00:00Z' });
    assert.equal(f.changeFailureRate, 0);
    assert.equal(f.timeToRestoreMinutes, null);
    assert.deepEqual(summarize([5, 1, 3]), { median: 3, mean: 3, min: 1, max: 5 });
    assert.equal(summarize([]), null);
    assert.throws(() => dora('production', []), /no records/);
    assert.throws(
      () => parseRecords('{"kind":"promotion","env":"production"}\n'),
      /records:1: no valid "at"/,
    );
  });

  test('the command line prints the four figures, or JSON', () => {
    const cli = (...args: string[]) =>
      spawnSync('npm', ['run', '--silent', 'dora', '--', '--repo', FIXTURE, ...args], {
        cwd: repoRoot(),
        encoding: 'utf8',
      });
    const text = cli('--until', '2026-11-08T10:00:00Z');
    assert.equal(text.status, 0, text.stderr);
    assert.deepEqual(
      text.stdout.trim().split('\n'),
      report(dora('production', records, { until: '2026-11-08T10:00:00Z' })),
    );
    assert.match(text.stdout, /8 deployments, 1\.14 per day/);
    assert.match(text.stdout, /change failure rate +25 % \(2 of 8 rolled back\)/);
    const json = cli('--json', '--since', '2026-11-03T00:00:00Z', '--until', '2026-11-05T00:00:00Z');
    assert.equal(JSON.parse(json.stdout).deployments, 2);
    assert.equal(cli('--env', 'dev').status, 2);
  });
});
