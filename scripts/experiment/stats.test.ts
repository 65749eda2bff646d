/**
 * Simulated users (fixed seed) assigned by flagd's real `fractional` targeting on targetingKey =
 * user id, converting with a known probability per variant: a truly better variant is detected
 * (p < 0.01) and an A/A split is not (p > 0.05). Prints the readouts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { initFlags } from '@mdp/platform/flags';
import { createLogger } from '@mdp/platform/logger';
import { Metrics } from '@mdp/platform/metrics';
import seedrandom from 'seedrandom';
import { type Arm, readout } from './stats.js';

async function simulate(rates: Record<string, number>, users: number, seed: string) {
  const dir = await mkdtemp(path.join(tmpdir(), 'mdp-exp-'));
  const file = path.join(dir, 'flags.json');
  const variants = Object.keys(rates);
  await writeFile(
    file,
    JSON.stringify({
      flags: {
        'catalog.ranking': {
          state: 'ENABLED',
          variants: Object.fromEntries(variants.map((v) => [v, v])),
          defaultVariant: variants[0],
          targeting: { fractional: variants.map((v) => [v, 50]) },
        },
      },
    }),
  );
  const metrics = new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false });
  const flags = await initFlags(
    { FLAGS_PROVIDER: 'file', FLAGS_FILE: file },
    { logger: createLogger({ service: 'sim', level: 'silent' }), metrics, domain: `sim-${seed}` },
  );
  const rng = seedrandom(seed);
  const arms = new Map<string, Arm>(variants.map((v) => [v, { variant: v, exposures: 0, conversions: 0 }]));
  try {
    for (let i = 0; i < users; i++) {
      const v = await flags.string('catalog.ranking', variants[0] as string, {
        targetingKey: `sim-user-${i}`,
      });
      const arm = arms.get(v) as Arm;
      arm.exposures++;
      if (rng() < (rates[v] as number)) arm.conversions++;
    }
  } finally {
    await flags.close();
    await rm(dir, { recursive: true, force: true });
  }
  return readout([...arms.values()]);
}

test('a truly better variant is detected', async () => {
  const r = await simulate({ control: 0.1, 'in-stock-first': 0.13 }, 6000, 'mdp-ab-1');
  process.stdout.write(`A/B readout: ${JSON.stringify(r)}\n`);
  assert.ok(
    r.arms.every((a) => a.exposures > 2500),
    'fractional split about 50/50',
  );
  assert.ok((r.pValue as number) < 0.01, `p = ${r.pValue}`);
  assert.ok((r.arms[1]?.rate as number) > (r.arms[0]?.rate as number));
});

test('an A/A split is not', async () => {
  const r = await simulate({ a: 0.1, b: 0.1 }, 6000, 'mdp-aa-1');
  process.stdout.write(`A/A readout: ${JSON.stringify(r)}\n`);
  assert.ok((r.pValue as number) > 0.05, `p = ${r.pValue}`);
});

test('known numbers: rates, Wilson interval and p-value', () => {
  const r = readout([
    { variant: 'a', exposures: 1000, conversions: 100 },
    { variant: 'b', exposures: 1000, conversions: 130 },
  ]);
  assert.equal(r.arms[0]?.rate, 0.1);
  assert.ok(Math.abs((r.arms[0]?.ci95[0] as number) - 0.0829) < 0.001);
  assert.ok(Math.abs((r.z as number) - 2.1027) < 0.001, String(r.z));
  assert.ok(Math.abs((r.pValue as number) - 0.0355) < 0.001, String(r.pValue));
});
