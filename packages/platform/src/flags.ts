import { unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { FlagdCore, MemoryStorage } from '@openfeature/flagd-core';
import { FlagsmithOpenFeatureProvider } from '@openfeature/flagsmith-provider';
import { SpanEventHook } from '@openfeature/open-telemetry-hooks';
import {
  type Client,
  type EvaluationContext,
  type Hook,
  type Logger as OFLogger,
  OpenFeature,
  OpenFeatureEventEmitter,
  type Provider,
  ProviderEvents,
} from '@openfeature/server-sdk';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Flagsmith, LocalFileHandler } from 'flagsmith-nodejs';
import { AppError } from './errors.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/**
 * OpenFeature provider over a flagd flag-definition file (the Kubernetes ConfigMap case).
 * Uses flagd's own evaluator (@openfeature/flagd-core) with strict validation against
 * flagd's schema. The file is polled (stat-based, so ConfigMap symlink swaps are seen);
 * an invalid new version is logged and the last good flags stay in force.
 *
 * Hand-written only because @openfeature/flagd-provider's offline mode validates
 * non-strictly, needs gRPC, and polls every 5 s with no way to change it.
 */
type Evaluation =
  | 'resolveBooleanEvaluation'
  | 'resolveStringEvaluation'
  | 'resolveNumberEvaluation'
  | 'resolveObjectEvaluation';

export class FlagdFileProvider implements Provider {
  readonly metadata = { name: 'flagd-file' } as const;
  readonly runsOn = 'server' as const;
  readonly events = new OpenFeatureEventEmitter();
  private readonly storage: MemoryStorage;
  private readonly core: FlagdCore;
  private watching = false;
  private lastText = '';

  constructor(
    private readonly file: string,
    private readonly logger: Logger,
    private readonly pollMs = 1000,
  ) {
    const ofLogger = this.logger as unknown as OFLogger;
    this.storage = new MemoryStorage(ofLogger);
    this.core = new FlagdCore(this.storage, ofLogger);
  }

  async initialize(): Promise<void> {
    // A bad file at start is fatal: there are no last good flags to keep.
    await this.load(true);
    watchFile(this.file, { interval: this.pollMs, persistent: false }, () => void this.load(false));
    this.watching = true;
  }

  private async load(initial: boolean): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if (initial) throw new Error(`cannot read flag file ${this.file}: ${(err as Error).message}`);
      this.logger.error({ err, file: this.file }, 'flag file unreadable; keeping the last good flags');
      return;
    }
    if (text === this.lastText) return;
    try {
      const changed = this.storage.setConfigurations(text, true);
      const before = this.lastText ? defaultVariants(this.lastText) : {};
      this.lastText = text;
      if (!initial) {
        const after = defaultVariants(text);
        // One line per changed flag, with its default variant before and after.
        for (const flag of changed)
          this.logger.info(
            {
              file: this.file,
              flag,
              oldDefaultVariant: before[flag] ?? null,
              newDefaultVariant: after[flag] ?? null,
            },
            'feature flag changed',
          );
        this.logger.info({ file: this.file, flagsChanged: changed }, 'feature flags reloaded');
        this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: changed });
      }
    } catch (err) {
      if (initial) throw new Error(`invalid flag file ${this.file}: ${(err as Error).message}`);
      this.logger.error({ err, file: this.file }, 'invalid flag file; keeping the last good flags');
    }
  }

  async onClose(): Promise<void> {
    if (this.watching) unwatchFile(this.file);
    this.watching = false;
  }

  // The evaluations are flagd's own (synchronous here: the flags are in memory).
  readonly resolveBooleanEvaluation = this.evaluate('resolveBooleanEvaluation');
  readonly resolveStringEvaluation = this.evaluate('resolveStringEvaluation');
  readonly resolveNumberEvaluation = this.evaluate('resolveNumberEvaluation');
  readonly resolveObjectEvaluation = this.evaluate(
    'resolveObjectEvaluation',
  ) as Provider['resolveObjectEvaluation'];

  private evaluate<K extends Evaluation>(kind: K) {
    type Evaluate = (...a: Parameters<FlagdCore[K]>) => ReturnType<FlagdCore[K]>;
    return (...args: Parameters<FlagdCore[K]>) =>
      Promise.resolve((this.core[kind] as Evaluate).apply(this.core, args));
  }
}

/** flag key → its defaultVariant, from a flagd definition text that flagd already accepted. */
function defaultVariants(text: string): Record<string, string | null> {
  const doc = JSON.parse(text) as { flags?: Record<string, { defaultVariant?: string | null }> };
  return Object.fromEntries(Object.entries(doc.flags ?? {}).map(([k, f]) => [k, f.defaultVariant ?? null]));
}

export interface FlagsSettings {
  FLAGS_PROVIDER: 'file' | 'flagsmith' | 'none';
  FLAGS_FILE?: string | undefined;
  FLAGS_POLL_MS?: number;
  FLAGSMITH_ENVIRONMENT_KEY?: string | undefined;
  FLAGSMITH_API_URL?: string | undefined;
  FLAGSMITH_OFFLINE_FILE?: string | undefined;
}

function flagsmithProvider(cfg: FlagsSettings): Provider {
  const offline = cfg.FLAGSMITH_OFFLINE_FILE;
  const client = new Flagsmith({
    ...(cfg.FLAGSMITH_ENVIRONMENT_KEY ? { environmentKey: cfg.FLAGSMITH_ENVIRONMENT_KEY } : {}),
    ...(cfg.FLAGSMITH_API_URL ? { apiUrl: cfg.FLAGSMITH_API_URL } : {}),
    ...(offline ? { offlineMode: true, offlineHandler: new LocalFileHandler(offline) } : {}),
    requestTimeoutSeconds: 3,
    retries: 1,
  });
  // The provider's types come from flagsmith-nodejs' CJS build, ours from its ESM build: same class.
  type ProviderClient = ConstructorParameters<typeof FlagsmithOpenFeatureProvider>[0];
  return new FlagsmithOpenFeatureProvider(client as unknown as ProviderClient, {
    returnValueForDisabledFlags: false,
    useFlagsmithDefaults: false,
    useBooleanConfigValue: false,
  });
}

/**
 * Counts every evaluation in feature_flag_evaluations_total{flag, variant, reason}; reason is
 * OpenFeature's resolution reason (STATIC, TARGETING_MATCH, SPLIT, DEFAULT, ERROR, ...).
 */
function metricsHook(metrics: Metrics): Hook {
  return {
    finally(hookContext, details) {
      const variant = details.variant ?? (details.errorCode ? 'default' : String(details.value));
      const reason = details.errorCode ? 'ERROR' : (details.reason ?? 'UNKNOWN');
      metrics.flagEvaluations().inc({ flag: hookContext.flagKey, variant, reason });
    },
  };
}

/** Typed access to feature flags; every getter returns the code default when no provider answers. */
export class Flags {
  constructor(
    readonly client: Client,
    private readonly domain: string,
  ) {}

  boolean(key: string, def: boolean, ctx?: EvaluationContext): Promise<boolean> {
    return this.client.getBooleanValue(key, def, ctx);
  }
  number(key: string, def: number, ctx?: EvaluationContext): Promise<number> {
    return this.client.getNumberValue(key, def, ctx);
  }
  string(key: string, def: string, ctx?: EvaluationContext): Promise<string> {
    return this.client.getStringValue(key, def, ctx);
  }

  async close(): Promise<void> {
    await OpenFeature.getProvider(this.domain)?.onClose?.();
  }
}

/**
 * Sets up OpenFeature for one service. `domain` scopes the provider (tests run several).
 * FLAGS_PROVIDER=none leaves OpenFeature's no-op provider: code defaults everywhere.
 */
export async function initFlags(
  cfg: FlagsSettings,
  deps: { logger: Logger; metrics: Metrics; domain: string },
): Promise<Flags> {
  const { logger, metrics, domain } = deps;
  let provider: Provider | undefined;
  if (cfg.FLAGS_PROVIDER === 'file') {
    if (!cfg.FLAGS_FILE) throw new Error('FLAGS_FILE is required when FLAGS_PROVIDER=file');
    provider = new FlagdFileProvider(cfg.FLAGS_FILE, logger, cfg.FLAGS_POLL_MS ?? 1000);
  } else if (cfg.FLAGS_PROVIDER === 'flagsmith') {
    provider = flagsmithProvider(cfg);
  }
  if (provider) await OpenFeature.setProviderAndWait(domain, provider);
  const client = OpenFeature.getClient(domain);
  // OpenTelemetry's feature-flag conventions: an event per evaluation on the active (request's)
  // span, with feature_flag.key, feature_flag.result.variant, feature_flag.provider.name, ...
  // attributes. An event rather than a span of its own: a span per evaluation was 7 of the 63
  // spans of an order (issue 16, docs/performance.md).
  client.addHooks(metricsHook(metrics), new SpanEventHook());
  logger.info({ provider: cfg.FLAGS_PROVIDER, file: cfg.FLAGS_FILE }, 'feature flags ready');
  return new Flags(client, domain);
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The operation's kill-switch (or release) flag, a boolean flag in config/flags/flags.json:
     * while it evaluates to false the route answers 503 FEATURE_DISABLED (packages/platform http).
     */
    featureFlag?: string;
  }
}

/** The error code of an operation switched off by its feature flag (documented in docs/feature-flags.md). */
export const FEATURE_DISABLED = 'FEATURE_DISABLED';

export class FeatureDisabledError extends AppError {
  constructor(
    readonly flag: string,
    operation: string,
  ) {
    super(503, FEATURE_DISABLED, `${operation} is switched off (feature flag ${flag})`, { flag });
    this.name = 'FeatureDisabledError';
  }
}

/**
 * Whether the kill switch `flag` lets the operation run (code default: on). Read on every call
 * from the provider, so a flag file change applies without a restart.
 */
export function operationEnabled(
  flags: Pick<Flags, 'boolean'>,
  flag: string,
  ctx?: EvaluationContext,
): Promise<boolean> {
  return flags.boolean(flag, true, ctx);
}

/**
 * The shared Fastify onRequest hook: a route with `config.featureFlag` answers 503
 * FEATURE_DISABLED (and logs one warn line) while its flag is off. Without `flags`, the
 * service's OpenFeature domain is read (its no-op provider answers the code default: on).
 */
export function featureGate(flags: Pick<Flags, 'boolean'> | undefined, domain: string) {
  const reader = flags ?? new Flags(OpenFeature.getClient(domain), domain);
  return async function featureGateHook(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const flag = request.routeOptions.config?.featureFlag;
    if (!flag) return;
    if (await operationEnabled(reader, flag)) return;
    const operation = `${request.method} ${request.routeOptions.url ?? request.url}`;
    request.log.warn({ featureFlag: flag, operation }, 'operation disabled by feature flag');
    throw new FeatureDisabledError(flag, operation);
  };
}
