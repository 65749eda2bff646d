import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { type Flags, initFlags } from '@mdp/platform/flags';
import { Metrics } from '@mdp/platform/metrics';
import { memoryLogger } from '@mdp/platform/test-support';
import { errorMap } from './errors.js';
import { FaultInjectedError, FaultInjector } from './faults.js';
import { FLAGS } from './flags.js';

/**
 * Runs `fn` with a FaultInjector whose flags come from a flag file with these default variants
 * (`undefined`: no provider, the code defaults), and the log lines it wrote.
 */
async function withFaults(
  variants: { rate: number; latency: number } | undefined,
  fn: (faults: FaultInjector, lines: () => Record<string, unknown>[]) => Promise<void>,
) {
  const { logger, lines } = memoryLogger('order-service', 'info');
  const dir = await mkdtemp(path.join(tmpdir(), 'faults-'));
  const file = path.join(dir, 'flags.json');
  const flag = (value: number) => ({ state: 'ENABLED', variants: { on: value }, defaultVariant: 'on' });
  if (variants)
    await writeFile(
      file,
      JSON.stringify({
        flags: {
          'fault.order-error-rate': flag(variants.rate),
          'fault.order-latency-ms': flag(variants.latency),
        },
      }),
    );
  const flags: Flags = await initFlags(
    variants ? { FLAGS_PROVIDER: 'file', FLAGS_FILE: file } : { FLAGS_PROVIDER: 'none' },
    {
      logger,
      metrics: new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false }),
      domain: `f-${randomUUID()}`,
    },
  );
  try {
    await fn(new FaultInjector(flags, logger), lines);
  } finally {
    await flags.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const active = (lines: () => Record<string, unknown>[]) =>
  lines().filter((l) => String(l.msg).includes('FAULT INJECTION ACTIVE'));

test('faults are off by default (no provider: code defaults) and log nothing alarming', async () => {
  assert.equal(FLAGS['fault.order-error-rate'].default, 0);
  assert.equal(FLAGS['fault.order-latency-ms'].default, 0);
  await withFaults(undefined, async (faults, lines) => {
    for (let i = 0; i < 50; i++) await faults.beforeCreate('u1');
    assert.deepEqual(active(lines), []);
  });
});

test('an active fault is logged at warn once per value change, and injects 500s', async () => {
  await withFaults({ rate: 1, latency: 0 }, async (faults, lines) => {
    for (let i = 0; i < 3; i++)
      await assert.rejects(
        faults.beforeCreate('u1'),
        (e) =>
          e instanceof FaultInjectedError &&
          errorMap(e)?.status === 500 &&
          errorMap(e)?.code === 'FAULT_INJECTED',
      );
    const warnings = active(lines);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.level, 'warn');
    assert.equal(warnings[0]?.flag, 'fault.order-error-rate');
  });
});

test('the latency fault holds a creation for exactly its value (mock timers)', async (t) => {
  await withFaults({ rate: 0, latency: 300 }, async (faults, lines) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let done = false;
    const created = faults.beforeCreate('u1').then(() => {
      done = true;
    });
    // The fault is logged just before the wait starts.
    while (!active(lines).some((l) => l.msg === 'FAULT INJECTION ACTIVE: fault.order-latency-ms=300'))
      await new Promise((r) => setImmediate(r));
    t.mock.timers.tick(299);
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false, 'still waiting after 299 ms');
    t.mock.timers.tick(1);
    await created;
    assert.equal(done, true, 'released at 300 ms');
    t.mock.timers.reset();
  });
});
