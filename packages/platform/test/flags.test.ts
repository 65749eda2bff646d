import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { initFlags } from '../src/flags.js';
import { Metrics } from '../src/metrics.js';
import { memoryLogger } from '../src/test-support.js';
import { eventually, uniqueName } from '../src/testing.js';

const flagFile = (rateVariant: 'low' | 'high') => ({
  $schema: 'https://flagd.dev/schema/v0/flags.json',
  flags: {
    'demo.rate': {
      state: 'ENABLED',
      variants: { low: 10, high: 100 },
      defaultVariant: rateVariant,
    },
    'demo.checkout': {
      state: 'ENABLED',
      variants: { control: 'classic', treatment: 'one-page' },
      defaultVariant: 'control',
      targeting: {
        fractional: [
          ['control', 50],
          ['treatment', 50],
        ],
      },
    },
  },
});

describe('feature flags: flagd file provider', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mdp-flags-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('evaluates, re-reads on change, keeps the last good flags on an invalid file, counts evaluations', async () => {
    const file = path.join(dir, 'flags.json');
    await writeFile(file, JSON.stringify(flagFile('low')));
    const { logger, lines } = memoryLogger();
    const metrics = new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false });
    const flags = await initFlags(
      { FLAGS_PROVIDER: 'file', FLAGS_FILE: file, FLAGS_POLL_MS: 50 },
      { logger, metrics, domain: uniqueName('flags') },
    );
    try {
      assert.equal(await flags.number('demo.rate', 1), 10);

      await writeFile(file, JSON.stringify(flagFile('high')));
      await eventually(async () => (await flags.number('demo.rate', 1)) === 100, 5000);
      assert.ok(lines().some((l) => l.msg === 'feature flags reloaded'));

      // flagd's schema refuses an unknown state: the previous flags stay in force.
      const invalid = flagFile('low') as { flags: Record<string, Record<string, unknown>> };
      (invalid.flags['demo.rate'] as Record<string, unknown>).state = 'SOMETIMES';
      await writeFile(file, JSON.stringify(invalid));
      await eventually(
        () => lines().some((l) => l.msg === 'invalid flag file; keeping the last good flags'),
        5000,
      );
      assert.equal(await flags.number('demo.rate', 1), 100);
      assert.equal(lines().find((l) => l.msg?.toString().startsWith('invalid flag file'))?.level, 'error');

      // Not JSON at all: same.
      await writeFile(file, '{ not json');
      await eventually(
        () => lines().filter((l) => l.msg === 'invalid flag file; keeping the last good flags').length >= 2,
        5000,
      );
      assert.equal(await flags.number('demo.rate', 1), 100);

      const text = await metrics.registry.getSingleMetricAsString('feature_flag_evaluations_total');
      assert.match(text, /flag="demo.rate",variant="low",reason="STATIC"} [1-9]/);
      assert.match(text, /flag="demo.rate",variant="high",reason="STATIC"} [1-9]/);
    } finally {
      await flags.close();
    }
  });

  test('A/B split by targetingKey is sticky per user and splits the population', async () => {
    const file = path.join(dir, 'ab.json');
    await writeFile(file, JSON.stringify(flagFile('low')));
    const { logger } = memoryLogger();
    const metrics = new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false });
    const flags = await initFlags(
      { FLAGS_PROVIDER: 'file', FLAGS_FILE: file },
      { logger, metrics, domain: uniqueName('flags') },
    );
    try {
      const seen = new Map<string, number>();
      for (let i = 0; i < 200; i++) {
        const user = `user-${i}`;
        const first = await flags.string('demo.checkout', 'classic', { targetingKey: user });
        const again = await flags.string('demo.checkout', 'classic', { targetingKey: user });
        assert.equal(first, again, `sticky for ${user}`);
        seen.set(first, (seen.get(first) ?? 0) + 1);
      }
      assert.ok((seen.get('classic') ?? 0) > 60, JSON.stringify([...seen]));
      assert.ok((seen.get('one-page') ?? 0) > 60, JSON.stringify([...seen]));
    } finally {
      await flags.close();
    }
  });

  test('an invalid flag file at start is an error (no last good flags to keep)', async () => {
    const file = path.join(dir, 'bad.json');
    await writeFile(file, JSON.stringify({ flags: { 'x.y': { state: 'ENABLED' } } }));
    const { logger } = memoryLogger();
    const metrics = new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false });
    await assert.rejects(
      initFlags(
        { FLAGS_PROVIDER: 'file', FLAGS_FILE: file },
        { logger, metrics, domain: uniqueName('flags') },
      ),
    );
  });
});

describe('feature flags: other providers', () => {
  test('flagsmith (official SDK, offline environment document) answers through OpenFeature', async () => {
    const { logger } = memoryLogger();
    const metrics = new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false });
    const flags = await initFlags(
      {
        FLAGS_PROVIDER: 'flagsmith',
        FLAGSMITH_OFFLINE_FILE: new URL('./fixtures/flagsmith-environment.json', import.meta.url).pathname,
      },
      { logger, metrics, domain: uniqueName('flags') },
    );
    try {
      assert.equal(await flags.number('demo.limit', 1, { targetingKey: 'u1' }), 42);
      assert.equal(await flags.boolean('demo.switch', true, { targetingKey: 'u1' }), false);
      assert.equal(await flags.number('demo.missing', 7, { targetingKey: 'u1' }), 7);
    } finally {
      await flags.close();
    }
  });

  test('no provider: code defaults everywhere, still counted', async () => {
    const { logger } = memoryLogger();
    const metrics = new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false });
    const flags = await initFlags(
      { FLAGS_PROVIDER: 'none' },
      { logger, metrics, domain: uniqueName('flags') },
    );
    assert.equal(await flags.number('demo.rate', 5), 5);
    assert.equal(await flags.boolean('demo.on', true), true);
    assert.match(
      await metrics.registry.getSingleMetricAsString('feature_flag_evaluations_total'),
      /flag="demo.rate",variant="default",reason="ERROR"} 1/,
    );
  });
});
