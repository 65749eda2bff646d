import { setTimeout as sleep } from 'node:timers/promises';
import type { Health } from './health.js';
import type { Logger } from './logger.js';

export type Closer = () => Promise<unknown> | unknown;

/** The contract's shutdown order. */
export const PHASES = ['server', 'consumers', 'pools', 'telemetry'] as const;
export type Phase = (typeof PHASES)[number];

/** Where a component registers how it closes (a Lifecycle; a test may pass its own). */
export interface Closers {
  on(phase: Phase, name: string, close: Closer): unknown;
}

export interface LifecycleOptions {
  logger: Logger;
  health: Health;
  drainMs: number;
  timeoutMs: number;
  /** Injected so tests observe the exit instead of dying. */
  exit?: (code: number) => void;
}

/**
 * Graceful shutdown: fail /readyz at once, keep serving for the drain delay (so the load
 * balancer stops sending), close the server (in-flight requests finish), then consumers,
 * then pools, then flush telemetry; exit 0, or 1 if it took longer than the timeout.
 */
export class Lifecycle implements Closers {
  private readonly closers = new Map<Phase, { name: string; close: Closer }[]>(PHASES.map((p) => [p, []]));
  private shutdownPromise: Promise<void> | undefined;
  private readonly exit: (code: number) => void;

  constructor(private readonly opts: LifecycleOptions) {
    this.exit = opts.exit ?? ((code) => process.exit(code));
  }

  on(phase: Phase, name: string, close: Closer): this {
    this.closers.get(phase)?.push({ name, close });
    return this;
  }

  get stopping(): boolean {
    return this.shutdownPromise !== undefined;
  }

  /** Idempotent: a second signal does not start a second shutdown. */
  shutdown(reason: string): Promise<void> {
    this.shutdownPromise ??= this.run(reason);
    return this.shutdownPromise;
  }

  private async run(reason: string): Promise<void> {
    const { logger, health, drainMs, timeoutMs } = this.opts;
    const started = Date.now();
    logger.info({ reason, drainMs, timeoutMs }, 'shutdown started');
    health.startShutdown();
    // What is being closed when the timeout strikes, for the log line.
    let pending = 'drain';
    const timer = setTimeout(() => {
      logger.error({ timeoutMs, pending }, 'shutdown timed out; exiting');
      this.exit(1);
    }, timeoutMs);
    timer.unref();
    let failed = false;
    try {
      if (drainMs > 0) await sleep(drainMs);
      for (const phase of PHASES) {
        for (const { name, close } of this.closers.get(phase) ?? []) {
          try {
            pending = `${phase}/${name}`;
            await close();
            logger.debug({ phase, name }, 'closed');
          } catch (err) {
            failed = true;
            logger.error({ err, phase, name }, 'close failed');
          }
        }
      }
    } finally {
      clearTimeout(timer);
    }
    logger.info({ durationMs: Date.now() - started }, 'shutdown complete');
    this.exit(failed ? 1 : 0);
  }

  /** SIGTERM (Kubernetes) and SIGINT (Ctrl-C) start the shutdown. */
  installSignalHandlers(): this {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.on(signal, () => void this.shutdown(signal));
    }
    return this;
  }
}
