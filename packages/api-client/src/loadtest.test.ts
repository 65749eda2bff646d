import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_SHAPE, loadShape, PROFILES } from './loadtest.js';

test('--profile picks a duration and rate; --duration and --rate override; an unknown profile is an error', () => {
  assert.deepEqual(loadShape('ci'), { profile: 'ci', ...PROFILES.ci });
  assert.ok(PROFILES.ci.durationS * PROFILES.ci.rate < PROFILES.staging.durationS * PROFILES.staging.rate);
  assert.deepEqual(loadShape('staging', { rate: 5 }), { profile: 'staging', durationS: 30, rate: 5 });
  assert.deepEqual(loadShape(undefined), { profile: null, ...DEFAULT_SHAPE });
  assert.throws(() => loadShape('soak'), /unknown profile soak \(ci, staging\)/);
  assert.throws(() => loadShape('toString'), /unknown profile/);
});
