import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type GroupFigures, judge } from './slo.js';

const figures = (over: Partial<GroupFigures> = {}): GroupFigures => ({
  group: 'catalog',
  requests: 10_000,
  errors: 0,
  p50Ms: 5,
  p99Ms: 40,
  statuses: { 200: 10_000 },
  ...over,
});

test('the gate passes within the targets and fails on p99 or error rate', () => {
  assert.equal(judge([figures(), figures({ group: 'auth', p99Ms: 900 })]).pass, true);
  assert.deepEqual(judge([figures({ p99Ms: 250 })]).failures, ['catalog: p99 250 ms >= 250 ms']);
  assert.equal(judge([figures({ group: 'orders', p99Ms: 499 })]).pass, true);
  assert.equal(judge([figures({ errors: 10 })]).pass, true, '0.1 % is allowed');
  assert.match(judge([figures({ errors: 11 })]).failures.join(), /error rate 0.110 %/);
});

test('no traffic or no figure is a failure, never a pass', () => {
  assert.equal(judge([]).pass, false);
  assert.equal(judge([figures({ requests: 0, errors: 0 })]).pass, false);
  assert.equal(judge([figures({ p99Ms: Number.NaN })]).pass, false);
});
