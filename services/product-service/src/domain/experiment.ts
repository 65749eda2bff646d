import type { Product } from './product.js';

/**
 * The catalog's A/B experiment `catalog.ranking` (issue 13): does showing the products that are in
 * stock first make more signed-in customers place an order? The unit is the signed-in user:
 * assignment is sticky per user id (flagd `fractional` on targetingKey = user id), a user counts
 * once as exposed (the first list page served to them under a variant) and once as converted (the
 * first order placed after that exposure, attributed to the variant they were exposed to).
 */
export const RANKING_EXPERIMENT = 'catalog.ranking';
export const RANKING_VARIANTS = ['control', 'in-stock-first'] as const;
export type RankingVariant = (typeof RANKING_VARIANTS)[number];

/** The variant a user is assigned (the flag provider). */
export interface ExperimentAssignment {
  variantFor(userId: string): Promise<string>;
}

/** Who was exposed to which variant, and who converted, shared by replicas (Redis). */
export interface ExperimentLedger {
  /** Records the user's exposure unless one is recorded; true the first time. */
  recordExposure(experiment: string, userId: string, variant: string): Promise<boolean>;
  /** The variant the user was first exposed to, if any. */
  exposureOf(experiment: string, userId: string): Promise<string | undefined>;
  /** Records the user's conversion unless one is recorded; true the first time. */
  recordConversion(experiment: string, userId: string): Promise<boolean>;
}

/** The experiment's counters (experiment_exposures_total / experiment_conversions_total). */
export interface ExperimentCounters {
  exposed(experiment: string, variant: string): void;
  converted(experiment: string, variant: string): void;
}

export interface RankingExperimentDeps {
  assignment: ExperimentAssignment;
  ledger: ExperimentLedger;
  counters: ExperimentCounters;
  /** The experiment must never break the catalog: failures are reported here and ignored. */
  onError(err: unknown, step: 'exposure' | 'conversion'): void;
}

const isVariant = (v: string): v is RankingVariant => (RANKING_VARIANTS as readonly string[]).includes(v);

/** `in-stock-first`: a stable sort of the page, products with stock first; `control`: unchanged. */
export function rankPage<T extends Pick<Product, 'stock'>>(items: T[], variant: RankingVariant): T[] {
  if (variant === 'control') return items;
  return items
    .map((item, i) => ({ item, i }))
    .sort((a, b) => Number(a.item.stock <= 0) - Number(b.item.stock <= 0) || a.i - b.i)
    .map((x) => x.item);
}

export class RankingExperiment {
  constructor(private readonly deps: RankingExperimentDeps) {}

  /** The variant for a signed-in user (recording the exposure); `control` for anyone else or on failure. */
  async variantFor(userId: string | undefined): Promise<RankingVariant> {
    if (!userId) return 'control';
    try {
      const raw = await this.deps.assignment.variantFor(userId);
      const variant = isVariant(raw) ? raw : 'control';
      if (await this.deps.ledger.recordExposure(RANKING_EXPERIMENT, userId, variant))
        this.deps.counters.exposed(RANKING_EXPERIMENT, variant);
      return variant;
    } catch (err) {
      this.deps.onError(err, 'exposure');
      return 'control';
    }
  }

  /** An order was placed by `userId`: a conversion of the variant they were exposed to, once per user. */
  async orderPlaced(userId: string | undefined): Promise<void> {
    if (!userId) return;
    try {
      const variant = await this.deps.ledger.exposureOf(RANKING_EXPERIMENT, userId);
      if (!variant) return;
      if (await this.deps.ledger.recordConversion(RANKING_EXPERIMENT, userId))
        this.deps.counters.converted(RANKING_EXPERIMENT, variant);
    } catch (err) {
      this.deps.onError(err, 'conversion');
    }
  }
}
