import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { coverageReport, registeredOperations, TARGET } from './report.js';

const fileFlags = new Set(
  Object.keys(
    (
      JSON.parse(readFileSync(new URL('../../config/flags/flags.json', import.meta.url), 'utf8')) as {
        flags: object;
      }
    ).flags,
  ),
);

test('coverage is computed from the registered routes and handlers, and meets the target', async () => {
  const ops = await registeredOperations();
  const r = coverageReport(ops, fileFlags);
  assert.ok(r.operations >= 25, `found ${r.operations} operations`);
  assert.ok(ops.some((o) => o.operation === 'POST /orders' && o.featureFlag === 'orders.create'));
  assert.ok(ops.some((o) => o.operation.startsWith('event order.created')));
  assert.ok(!ops.some((o) => o.operation.includes('/healthz')), 'platform endpoints are not operations');
  assert.ok(r.coverage >= TARGET, JSON.stringify(r.unflagged));
  assert.deepEqual(r.unknownFlags, []);
});

test('an operation without a flag, or naming a flag missing from the file, is unflagged', () => {
  const r = coverageReport(
    [
      { service: 's', operation: 'GET /a', featureFlag: 'orders.create' },
      { service: 's', operation: 'GET /b', featureFlag: undefined },
      { service: 's', operation: 'GET /c', featureFlag: 'no.such-flag' },
    ],
    fileFlags,
  );
  assert.equal(r.flagged, 1);
  assert.deepEqual(r.unflagged, ['s GET /b', 's GET /c']);
  assert.deepEqual(r.unknownFlags, ['no.such-flag']);
  assert.equal(r.coverage, 0.3333);
});

test('npm run flags:report -- --json: the last line is {coverage, operations, flagged, unflagged}', async () => {
  const { stdout } = await promisify(execFile)('npm', ['run', '-s', 'flags:report', '--', '--json'], {
    timeout: 60_000,
  });
  const last = JSON.parse(stdout.trim().split('\n').at(-1) as string) as Record<string, unknown>;
  assert.deepEqual(Object.keys(last), ['coverage', 'operations', 'flagged', 'unflagged']);
  assert.ok((last.coverage as number) >= TARGET);
});
