import { setTimeout as sleep } from 'node:timers/promises';
import type { Flags } from '@mdp/platform/flags';
import type { Logger } from '@mdp/platform/logger';
import { FLAGS } from './flags.js';

const clamp = (v: number, lo: number, hi: number) =>
  Number.isFinite(v) ? Math.min(Math.max(v, lo), hi) : lo;

/** The failure `fault.order-error-rate` injects (a 500 FAULT_INJECTED). */
export class FaultInjectedError extends Error {
  override name = 'FaultInjectedError';
  constructor() {
    super('injected failure (feature flag fault.order-error-rate)');
  }
}

/**
 * The release-testing faults (`fault.order-error-rate`, `fault.order-latency-ms`). Off by
 * default; each change of value is logged at warn, so an active fault is never silent.
 */
export class FaultInjector {
  private last: Record<string, number> = {};

  constructor(
    private readonly flags: Flags,
    private readonly logger: Logger,
  ) {}

  private note(key: keyof typeof FLAGS, value: number): void {
    if (this.last[key] === value) return;
    this.last[key] = value;
    if (value > 0) this.logger.warn({ flag: key, value }, `FAULT INJECTION ACTIVE: ${key}=${value}`);
    else this.logger.info({ flag: key }, `fault injection off: ${key}`);
  }

  /** Before an order is created: may wait, may throw a 500. */
  async beforeCreate(userId: string): Promise<void> {
    const ctx = { targetingKey: userId };
    const latency = clamp(
      await this.flags.number('fault.order-latency-ms', FLAGS['fault.order-latency-ms'].default, ctx),
      0,
      10_000,
    );
    const rate = clamp(
      await this.flags.number('fault.order-error-rate', FLAGS['fault.order-error-rate'].default, ctx),
      0,
      1,
    );
    this.note('fault.order-latency-ms', latency);
    this.note('fault.order-error-rate', rate);
    if (latency > 0) await sleep(latency);
    if (rate > 0 && Math.random() < rate) throw new FaultInjectedError();
  }
}
