/**
 * promtool cases for the burn-rate alerts Sloth generates, derived from the generated rules
 * themselves: for each alert's two window pairs (page: 5m/1h at 14.4x and 30m/6h at 6x; ticket:
 * 2h/1d at 3x and 6h/3d at 1x), synthetic SLI error ratios (`slo:sli_error:ratio_rate<window>`)
 * just above the pair's threshold in both windows (fires) and just below it in the long window
 * (silent). Plus one case per SLO from the raw metrics its SLI reads (sli-inputs.ts): all bad fires
 * the page and the ticket, all good stays silent — that proves the SLI queries, not only the thresholds.
 */
import { stringify } from 'yaml';
import type { PromtoolTest, Rule, RuleFile } from './monitoring.js';
import { SLI_INPUTS } from './sli-inputs.js';

export interface BurnTerm {
  window: string;
  factor: number;
  budget: number;
}

/** The four `max(slo:sli_error:ratio_rate<w>{...} > (F * B))` terms of a Sloth alert, in order. */
export function burnTerms(expr: string): BurnTerm[] {
  return [
    ...expr.matchAll(/slo:sli_error:ratio_rate(\w+)\{[^}]*\}\s*>\s*\(([\d.]+)\s*\*\s*([\d.e-]+)\)/g),
  ].map((m) => ({
    window: m[1] as string,
    factor: Number(m[2]),
    budget: Number(m[3]),
  }));
}

/** The labels an alert's expression keeps, given the labels of its input series. */
export function keptLabels(expr: string, series: Record<string, string>): Record<string, string> {
  const by = /\)\s*by\s*\(([^)]*)\)/.exec(expr);
  if (by) {
    const keep = (by[1] as string).split(',').map((s) => s.trim());
    return Object.fromEntries(Object.entries(series).filter(([k]) => keep.includes(k)));
  }
  if (/without\s*\(\s*sloth_window\s*\)/.test(expr)) {
    const { sloth_window: _, ...rest } = series;
    return rest;
  }
  throw new Error(`unknown aggregation in Sloth alert expression: ${expr}`);
}

/** Expands `{{ $labels.x }}` (the only template form the SLO annotations use). */
export function expand(text: string, labels: Record<string, string>): string {
  const out = text.replace(/\{\{\s*\$labels\.(\w+)\s*\}\}/g, (_, k: string) => labels[k] ?? '');
  if (out.includes('{{'))
    throw new Error(`template left in "${text}": only {{ $labels.x }} is expanded here`);
  return out;
}

const selector = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ')}}`;

export interface GeneratedTest {
  name: string;
  text: string;
  parsed: PromtoolTest;
}

/** One promtool test file per Sloth rule file (monitoring/slo/rules). */
export function sloPromtoolTests(files: RuleFile[]): GeneratedTest[] {
  const out: GeneratedTest[] = [];
  for (const f of files.filter((x) => x.file.startsWith('monitoring/slo/rules/'))) {
    const rules = f.groups.flatMap((g) => g.rules);
    const tests: PromtoolTest['tests'] = [];
    const alerts = rules.filter((r): r is Rule & { alert: string } => Boolean(r.alert));
    const ids = new Set<string>();
    for (const alert of alerts) {
      const id = /sloth_id="([^"]+)"/.exec(alert.expr)?.[1];
      if (!id) throw new Error(`${f.file}: alert ${alert.alert} has no sloth_id filter`);
      ids.add(id);
      const sli = (w: string) => {
        const r = rules.find((x) => x.record === `slo:sli_error:ratio_rate${w}` && x.labels?.sloth_id === id);
        if (!r?.labels) throw new Error(`${f.file}: no SLI recording rule for ${id} window ${w}`);
        return { ...r.labels, namespace: 'mdp-production' };
      };
      const terms = burnTerms(alert.expr);
      if (terms.length !== 4)
        throw new Error(`${f.file}: ${alert.alert} has ${terms.length} burn terms, expected 4`);
      const windows = [...new Set(terms.map((t) => t.window))];
      for (const [short, long] of [
        [terms[0], terms[1]],
        [terms[2], terms[3]],
      ] as [BurnTerm, BurnTerm][]) {
        const threshold = short.factor * short.budget;
        const series = (longValue: number) =>
          windows.map((w) => ({
            series: selector(`slo:sli_error:ratio_rate${w}`, sli(w)),
            values: `${w === short.window ? threshold * 1.05 : w === long.window ? longValue : 0}x10`,
          }));
        const exprLabels = keptLabels(alert.expr, sli(short.window));
        const labels: Record<string, string> = {
          ...exprLabels,
          ...(alert.labels ?? {}),
          alertname: alert.alert,
        };
        const annotations = Object.fromEntries(
          Object.entries(alert.annotations ?? {}).map(([k, v]) => [k, expand(v, exprLabels)]),
        );
        const pair = `${short.window}/${long.window} at ${short.factor}x`;
        tests.push({
          // fires: both windows of the pair above factor x budget
          input_series: series(threshold * 1.05),
          alert_rule_test: [
            {
              eval_time: '5m',
              alertname: alert.alert,
              exp_alerts: [{ exp_labels: labels, exp_annotations: annotations }],
            },
          ],
          ...{ name: `${alert.alert} ${labels.sloth_severity ?? ''} fires: ${pair}` },
        } as PromtoolTest['tests'][number]);
        tests.push({
          // silent: the short window burns, the long one is just below
          input_series: series(threshold * 0.95),
          alert_rule_test: [{ eval_time: '5m', alertname: alert.alert, exp_alerts: [] }],
          ...{ name: `${alert.alert} ${labels.sloth_severity ?? ''} silent: ${pair}, long window at 0.95x` },
        } as PromtoolTest['tests'][number]);
      }
    }
    // From the raw metrics: all bad pages (and tickets), all good stays silent.
    for (const id of ids) {
      const input = SLI_INPUTS[id];
      if (!input) throw new Error(`no raw SLI input for ${id} in packages/monitoring/src/sli-inputs.ts`);
      // Every event bad: the ratio is 1 in every window, so the page and the ticket both fire.
      const mine = alerts.filter((a) => a.expr.includes(`sloth_id="${id}"`));
      if (!mine.some((a) => a.labels?.sloth_severity === 'page'))
        throw new Error(`${f.file}: no page alert for ${id}`);
      const page = mine[0] as (typeof mine)[number];
      const expected = mine.map((a) => {
        const exprLabels = keptLabels(a.expr, { ...sliLabelsOf(rules, id), namespace: 'mdp-production' });
        return {
          exp_labels: { ...exprLabels, ...(a.labels ?? {}), alertname: a.alert },
          exp_annotations: Object.fromEntries(
            Object.entries(a.annotations ?? {}).map(([k, v]) => [k, expand(v, exprLabels)]),
          ),
        };
      });
      tests.push({
        interval: '1m',
        input_series: input(1),
        alert_rule_test: [
          {
            eval_time: '10m',
            alertname: page.alert,
            exp_alerts: expected,
          },
        ],
        ...{ name: `${id}: raw metrics, every event bad: page and ticket fire` },
      } as PromtoolTest['tests'][number]);
      tests.push({
        interval: '1m',
        input_series: input(0),
        alert_rule_test: [{ eval_time: '10m', alertname: page.alert, exp_alerts: [] }],
        ...{ name: `${id}: raw metrics, every event good: silent` },
      } as PromtoolTest['tests'][number]);
    }
    const parsed: PromtoolTest = { rule_files: [f.name], tests };
    const doc = {
      rule_files: [f.name],
      evaluation_interval: '1m',
      tests: tests.map((t) => ({ interval: '1m', ...t })),
    };
    out.push({
      name: `generated-${f.name.replace(/\.yaml$/, '')}.test.yaml`,
      text: stringify(doc, { lineWidth: 0 }),
      parsed,
    });
  }
  return out;
}

function sliLabelsOf(rules: Rule[], id: string): Record<string, string> {
  const r = rules.find((x) => x.record === 'slo:sli_error:ratio_rate5m' && x.labels?.sloth_id === id);
  if (!r?.labels) throw new Error(`no 5m SLI recording rule for ${id}`);
  return r.labels;
}
