import jstat from 'jstat';

const { jStat } = jstat;

export interface Arm {
  variant: string;
  exposures: number;
  conversions: number;
}

export interface ArmReadout extends Arm {
  rate: number;
  /** Wilson score interval, 95 %. */
  ci95: [number, number];
}

export interface Readout {
  arms: ArmReadout[];
  /** Two-sided p-value of the pooled two-proportion z-test, first two arms (null with fewer). */
  pValue: number | null;
  z: number | null;
}

const Z95 = jStat.normal.inv(0.975, 0, 1);

function wilson(x: number, n: number): [number, number] {
  if (n === 0) return [0, 1];
  const p = x / n;
  const d = 1 + (Z95 * Z95) / n;
  const c = (p + (Z95 * Z95) / (2 * n)) / d;
  const h = (Z95 * Math.sqrt((p * (1 - p)) / n + (Z95 * Z95) / (4 * n * n))) / d;
  return [Math.max(0, c - h), Math.min(1, c + h)];
}

/** Per-arm rates with 95 % intervals, and the two-proportion z-test (jStat's normal tail). */
export function readout(arms: Arm[]): Readout {
  const out = arms.map((a) => ({
    ...a,
    rate: a.exposures ? a.conversions / a.exposures : 0,
    ci95: wilson(a.conversions, a.exposures),
  }));
  const [a, b] = out;
  if (!a || !b || !a.exposures || !b.exposures) return { arms: out, pValue: null, z: null };
  const pooled = (a.conversions + b.conversions) / (a.exposures + b.exposures);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / a.exposures + 1 / b.exposures));
  const z = se === 0 ? 0 : (b.rate - a.rate) / se;
  return { arms: out, z, pValue: jStat.ztest(z, 2) };
}
