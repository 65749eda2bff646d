/**
 * `npm run dora [-- --env production] [--repo DIR] [--since ISO] [--until ISO] [--json]`: the four
 * DORA figures from the promotion records (deploy/promotions/<env>.jsonl):
 *  - deployment frequency: promotions per day over the window (--since .. --until; by default the
 *    first record .. the last record, at least one day),
 *  - lead time for changes: promotion time minus the commit time of the source commit (median, mean),
 *  - change failure rate: promotions that a rollback reverted, over all promotions,
 *  - time to restore: rollback time minus the time of the promotion it reverted (median, mean).
 * Only promotions made inside the window count; their rollbacks count wherever they fall.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type Environment,
  isEnvironment,
  type PipelineRecord,
  type PromotionRecord,
  promotions,
  type RollbackRecord,
  readRecords,
} from './records.js';

export interface Summary {
  median: number;
  mean: number;
  min: number;
  max: number;
}

export interface DoraFigures {
  env: Environment;
  since: string;
  until: string;
  days: number;
  deployments: number;
  deploymentsPerDay: number;
  leadTimeHours: Summary | null;
  failedDeployments: number;
  changeFailureRate: number | null;
  restores: number;
  timeToRestoreMinutes: Summary | null;
}

const DAY = 86_400_000;

export function summarize(values: number[]): Summary | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return {
    median,
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    min: s[0] as number,
    max: s.at(-1) as number,
  };
}

export function dora(
  env: Environment,
  records: PipelineRecord[],
  window: { since?: string; until?: string } = {},
): DoraFigures {
  const times = records.map((r) => Date.parse(r.at));
  const since = window.since ? Date.parse(window.since) : Math.min(...times);
  const until = window.until ? Date.parse(window.until) : Math.max(...times);
  if (!records.length && !(window.since && window.until))
    throw new Error(`no records for ${env}: give --since and --until, or promote first`);
  const inWindow = promotions(records).filter((p) => {
    const t = Date.parse(p.at);
    return t >= since && t <= until;
  });
  const rollbacks = new Map<string, RollbackRecord>();
  for (const r of records)
    if (r.kind === 'rollback' && !rollbacks.has(r.promotion)) rollbacks.set(r.promotion, r);
  const failed = inWindow.filter((p) => rollbacks.has(p.id));
  const days = Math.max(1, (until - since) / DAY);
  const hours = (p: PromotionRecord) => (Date.parse(p.at) - Date.parse(p.committedAt)) / 3_600_000;
  const restoreMinutes = failed.map(
    (p) => (Date.parse((rollbacks.get(p.id) as RollbackRecord).at) - Date.parse(p.at)) / 60_000,
  );
  return {
    env,
    since: new Date(since).toISOString(),
    until: new Date(until).toISOString(),
    days,
    deployments: inWindow.length,
    deploymentsPerDay: inWindow.length / days,
    leadTimeHours: summarize(inWindow.map(hours)),
    failedDeployments: failed.length,
    changeFailureRate: inWindow.length ? failed.length / inWindow.length : null,
    restores: restoreMinutes.length,
    timeToRestoreMinutes: summarize(restoreMinutes),
  };
}

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2));
const fmtSummary = (s: Summary | null, unit: string) =>
  s ? `median ${fmt(s.median)} ${unit}, mean ${fmt(s.mean)} ${unit} (${fmt(s.min)}-${fmt(s.max)})` : 'n/a';

export function report(f: DoraFigures): string[] {
  return [
    `DORA figures for ${f.env}, ${f.since} .. ${f.until} (${fmt(f.days)} days)`,
    `deployment frequency   ${f.deployments} deployments, ${fmt(f.deploymentsPerDay)} per day`,
    `lead time for changes  ${fmtSummary(f.leadTimeHours, 'h')}`,
    `change failure rate    ${f.changeFailureRate === null ? 'n/a' : `${fmt(f.changeFailureRate * 100)} %`} (${f.failedDeployments} of ${f.deployments} rolled back)`,
    `time to restore        ${fmtSummary(f.timeToRestoreMinutes, 'min')}`,
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      env: { type: 'string', default: 'production' },
      repo: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (!isEnvironment(values.env)) {
    process.stderr.write('dora: --env staging|production\n');
    process.exit(2);
  }
  try {
    const root = path.resolve(values.repo ?? process.cwd());
    const figures = dora(values.env, readRecords(root, values.env), {
      ...(values.since ? { since: values.since } : {}),
      ...(values.until ? { until: values.until } : {}),
    });
    process.stdout.write(`${values.json ? JSON.stringify(figures, null, 2) : report(figures).join('\n')}\n`);
  } catch (err) {
    process.stderr.write(`dora: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
