/**
 * `npm run experiment:readout -- <flag> [--json]`: per variant exposures, conversions, rate with a
 * 95 % interval and the two-proportion test p-value, from Prometheus (PROMETHEUS_URL, default
 * http://127.0.0.1:9090): experiment_exposures_total / experiment_conversions_total{experiment=<flag>}.
 */
import { type Arm, readout } from './stats.js';

async function byVariant(base: string, metric: string, flag: string): Promise<Map<string, number>> {
  const q = `sum by (variant) (${metric}{experiment="${flag}"})`;
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`, {
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error(`Prometheus ${res.status} for ${q}`);
  const body = (await res.json()) as {
    data: { result: { metric: { variant?: string }; value: [number, string] }[] };
  };
  return new Map(body.data.result.map((r) => [r.metric.variant ?? '', Number(r.value[1])]));
}

const args = process.argv.slice(2);
const flag = args.find((a) => !a.startsWith('--'));
if (!flag) {
  process.stderr.write('usage: npm run experiment:readout -- <flag> [--json]\n');
  process.exit(2);
}
const base = process.env.PROMETHEUS_URL ?? 'http://127.0.0.1:9090';
const exposures = await byVariant(base, 'experiment_exposures_total', flag);
const conversions = await byVariant(base, 'experiment_conversions_total', flag);
const arms: Arm[] = [...exposures.keys()].sort().map((variant) => ({
  variant,
  exposures: exposures.get(variant) ?? 0,
  conversions: conversions.get(variant) ?? 0,
}));
const r = readout(arms);
if (args.includes('--json')) process.stdout.write(`${JSON.stringify({ flag, ...r })}\n`);
else {
  for (const a of r.arms)
    process.stdout.write(
      `${a.variant.padEnd(16)} exposures ${a.exposures}  conversions ${a.conversions}  rate ${(a.rate * 100).toFixed(2)}% [${(a.ci95[0] * 100).toFixed(2)}, ${(a.ci95[1] * 100).toFixed(2)}]\n`,
    );
  process.stdout.write(`two-proportion z-test: p = ${r.pValue === null ? 'n/a' : r.pValue.toPrecision(3)}\n`);
}
