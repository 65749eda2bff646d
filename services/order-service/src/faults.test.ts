import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { initFlags } from '@mdp/platform/flags';
import { createLogger } from '@mdp/platform/logger';
import { Metrics } from '@mdp/platform/metrics';
import { errorMap } from './errors.js';
import { FaultInjectedError, FaultInjector } from './faults.js';
import { FLAGS } from './flags.js';

test('faults are off by default (no provider: code defaults) and log nothing alarming', async () => {
  const lines: string[] = [];
  const logger = createLogger({
    service: 'order-service',
    destination: new Writable({
      write: (c, _e, cb) => {
        lines.push(String(c));
        cb();
      },
    }),
  });
  const metrics = new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false });
  const flags = await initFlags({ FLAGS_PROVIDER: 'none' }, { logger, metrics, domain: `f-${randomUUID()}` });
  assert.equal(FLAGS['fault.order-error-rate'].default, 0);
  assert.equal(FLAGS['fault.order-latency-ms'].default, 0);
  const faults = new FaultInjector(flags, logger);
  for (let i = 0; i < 50; i++) await faults.beforeCreate('u1');
  assert.ok(!lines.some((l) => l.includes('FAULT INJECTION ACTIVE')));
});

test('an active fault is logged at warn once per value change, and injects 500s', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'faults-'));
  const file = path.join(dir, 'flags.json');
  await writeFile(
    file,
    JSON.stringify({
      flags: {
        'fault.order-error-rate': { state: 'ENABLED', variants: { all: 1 }, defaultVariant: 'all' },
        'fault.order-latency-ms': { state: 'ENABLED', variants: { off: 0 }, defaultVariant: 'off' },
      },
    }),
  );
  const lines: string[] = [];
  const logger = createLogger({
    service: 'order-service',
    destination: new Writable({
      write: (c, _e, cb) => {
        lines.push(String(c));
        cb();
      },
    }),
  });
  const metrics = new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false });
  const flags = await initFlags(
    { FLAGS_PROVIDER: 'file', FLAGS_FILE: file },
    { logger, metrics, domain: `f-${randomUUID()}` },
  );
  try {
    const faults = new FaultInjector(flags, logger);
    for (let i = 0; i < 3; i++)
      await assert.rejects(
        faults.beforeCreate('u1'),
        (e) =>
          e instanceof FaultInjectedError &&
          errorMap(e)?.status === 500 &&
          errorMap(e)?.code === 'FAULT_INJECTED',
      );
    const warnings = lines.map((l) => JSON.parse(l)).filter((l) => l.msg.includes('FAULT INJECTION ACTIVE'));
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].level, 'warn');
    assert.equal(warnings[0].flag, 'fault.order-error-rate');
  } finally {
    await flags.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('the latency fault holds a creation for exactly its value (mock timers)', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'faults-'));
  const file = path.join(dir, 'flags.json');
  await writeFile(
    file,
    JSON.stringify({
      flags: {
        'fault.order-error-rate': { state: 'ENABLED', variants: { off: 0 }, defaultVariant: 'off' },
        'fault.order-latency-ms': { state: 'ENABLED', variants: { slow: 300 }, defaultVariant: 'slow' },
      },
    }),
  );
  const lines: string[] = [];
  const logger = createLogger({
    service: 'order-service',
    destination: new Writable({
      write: (c, _e, cb) => {
        lines.push(String(c));
        cb();
      },
    }),
  });
  const metrics = new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false });
  const flags = await initFlags(
    { FLAGS_PROVIDER: 'file', FLAGS_FILE: file },
    { logger, metrics, domain: `f-${randomUUID()}` },
  );
  try {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let done = false;
    const created = new FaultInjector(flags, logger).beforeCreate('u1').then(() => {
      done = true;
    });
    // The fault is logged just before the wait starts.
    while (!lines.some((l) => l.includes('FAULT INJECTION ACTIVE: fault.order-latency-ms=300')))
      await new Promise((r) => setImmediate(r));
    t.mock.timers.tick(299);
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false, 'still waiting after 299 ms');
    t.mock.timers.tick(1);
    await created;
    assert.equal(done, true, 'released at 300 ms');
  } finally {
    t.mock.timers.reset();
    await flags.close();
    await rm(dir, { recursive: true, force: true });
  }
});
