/** A dependency check: resolves when the dependency answers, rejects (or times out) otherwise. */
export type Check = (signal: AbortSignal) => Promise<unknown>;

export interface CheckResult {
  status: 'ok' | 'fail';
  durationMs: number;
  error?: string;
}

export interface Readiness {
  ready: boolean;
  shuttingDown: boolean;
  checks: Record<string, CheckResult>;
  failing: string[];
}

class CheckTimeout extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
  }
}

/** Readiness registry: named dependency checks, each with its own timeout, run concurrently. */
export class Health {
  private readonly checks = new Map<string, { check: Check; timeoutMs: number }>();
  private draining = false;

  constructor(private readonly defaultTimeoutMs = 1000) {}

  add(name: string, check: Check, timeoutMs = this.defaultTimeoutMs): this {
    if (this.checks.has(name)) throw new Error(`health check ${name} registered twice`);
    this.checks.set(name, { check, timeoutMs });
    return this;
  }

  names(): string[] {
    return [...this.checks.keys()];
  }

  /** From now on /readyz answers 503: the first step of shutdown. */
  startShutdown(): void {
    this.draining = true;
  }

  get shuttingDown(): boolean {
    return this.draining;
  }

  private async runOne(check: Check, timeoutMs: number): Promise<CheckResult> {
    const started = performance.now();
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        check(ac.signal),
        new Promise((_, reject) => {
          timer = setTimeout(() => {
            ac.abort();
            reject(new CheckTimeout(timeoutMs));
          }, timeoutMs);
        }),
      ]);
      return { status: 'ok', durationMs: Math.round(performance.now() - started) };
    } catch (err) {
      const error = err instanceof Error ? err.message || err.name : String(err);
      return { status: 'fail', durationMs: Math.round(performance.now() - started), error };
    } finally {
      clearTimeout(timer);
    }
  }

  async readiness(): Promise<Readiness> {
    const entries = await Promise.all(
      [...this.checks].map(
        async ([name, { check, timeoutMs }]) => [name, await this.runOne(check, timeoutMs)] as const,
      ),
    );
    const checks = Object.fromEntries(entries);
    const failing = entries.filter(([, r]) => r.status === 'fail').map(([n]) => n);
    return { ready: failing.length === 0 && !this.draining, shuttingDown: this.draining, checks, failing };
  }
}
