/**
 * The promotion records: one JSON object per line in deploy/promotions/<env>.jsonl, appended by
 * `npm run promote` (kind `promotion`), by the post-deploy verification (`verification`) and by
 * `npm run rollback:promotion` (`rollback`). They live in the GitOps repository next to the
 * overlays, so each record is committed together with the overlay change it describes, and they
 * are the only input of `npm run dora`.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const ENVIRONMENTS = ['staging', 'production'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];
/** Where an environment's digests must have passed first ("build": signed output of build-images). */
export const PREVIOUS: Record<Environment, Environment | 'build'> = {
  staging: 'build',
  production: 'staging',
};

/** service name -> image digest (sha256:<64 hex>). */
export type Images = Record<string, string>;

export interface PromotionRecord {
  kind: 'promotion';
  id: string;
  env: Environment;
  from: Environment | 'build';
  /** When the promotion commit was made (ISO 8601). */
  at: string;
  /** The CI run that promoted (GITHUB_RUN_ID), or "local". */
  runId: string;
  actor: string;
  /** The source commit the images were built from, and its commit time (lead time starts there). */
  commit: string;
  committedAt: string;
  images: Images;
  /** The digests the overlay carried before (null: a tag, no digest yet). */
  previous: Record<string, string | null>;
}

export interface VerificationRecord {
  kind: 'verification';
  env: Environment;
  promotion: string;
  at: string;
  runId: string;
  outcome: 'pass' | 'fail';
  checks: string[];
}

export interface RollbackRecord {
  kind: 'rollback';
  env: Environment;
  /** The promotion that was reverted. */
  promotion: string;
  at: string;
  runId: string;
  reason: string;
  /** The digests the overlay carries again. */
  restored: Record<string, string | null>;
}

export type PipelineRecord = PromotionRecord | VerificationRecord | RollbackRecord;

export const recordsFile = (root: string, env: Environment) =>
  path.join(root, 'deploy', 'promotions', `${env}.jsonl`);

export function isEnvironment(value: unknown): value is Environment {
  return typeof value === 'string' && (ENVIRONMENTS as readonly string[]).includes(value);
}

export function parseRecords(text: string, source = 'records'): PipelineRecord[] {
  return text
    .split('\n')
    .map((line, i) => ({ line: line.trim(), n: i + 1 }))
    .filter(({ line }) => line !== '')
    .map(({ line, n }) => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        throw new Error(`${source}:${n}: not JSON (${(err as Error).message})`);
      }
      const r = value as Partial<PipelineRecord>;
      if (!r || !['promotion', 'verification', 'rollback'].includes(r.kind ?? '') || !isEnvironment(r.env))
        throw new Error(`${source}:${n}: not a promotion, verification or rollback record`);
      if (Number.isNaN(Date.parse(r.at ?? ''))) throw new Error(`${source}:${n}: no valid "at" time`);
      return value as PipelineRecord;
    });
}

export function readRecords(root: string, env: Environment): PipelineRecord[] {
  const file = recordsFile(root, env);
  if (!existsSync(file)) return [];
  return parseRecords(readFileSync(file, 'utf8'), path.relative(root, file));
}

export const promotions = (records: PipelineRecord[]) =>
  records.filter((r): r is PromotionRecord => r.kind === 'promotion');

export const rolledBack = (records: PipelineRecord[]) =>
  new Set(records.filter((r) => r.kind === 'rollback').map((r) => r.promotion));

/** The promotions that passed their post-deploy verification and were not rolled back. */
export function passedPromotions(records: PipelineRecord[]): PromotionRecord[] {
  const reverted = rolledBack(records);
  const verdict = new Map<string, 'pass' | 'fail'>();
  for (const r of records) if (r.kind === 'verification') verdict.set(r.promotion, r.outcome);
  return promotions(records).filter((p) => verdict.get(p.id) === 'pass' && !reverted.has(p.id));
}

/** The newest promotion that is still in place (not rolled back), if any. */
export function currentPromotion(records: PipelineRecord[]): PromotionRecord | undefined {
  const reverted = rolledBack(records);
  return promotions(records)
    .filter((p) => !reverted.has(p.id))
    .at(-1);
}
