import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { AppError } from '@mdp/platform/errors';
import { initFlags } from '@mdp/platform/flags';
import { createLogger } from '@mdp/platform/logger';
import { Metrics } from '@mdp/platform/metrics';
import { FaultInjector } from './faults.js';
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
        (e) => e instanceof AppError && e.statusCode === 500 && e.code === 'FAULT_INJECTED',
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
