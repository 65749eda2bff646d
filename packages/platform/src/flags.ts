import { unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { FlagdCore, MemoryStorage } from '@openfeature/flagd-core';
import { FlagsmithOpenFeatureProvider } from '@openfeature/flagsmith-provider';
import { SpanEventHook } from '@openfeature/open-telemetry-hooks';
import {
  type Client,
  type EvaluationContext,
  type Hook,
  type JsonValue,
  type Logger as OFLogger,
  OpenFeature,
  OpenFeatureEventEmitter,
  type Provider,
  ProviderEvents,
  type ResolutionDetails,
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
  FLAGSMITH_LOCAL_EVALUATION?: boolean;
  FLAGSMITH_REFRESH_SECONDS?: number;
}

// The provider's types come from flagsmith-nodejs' CJS build, ours from its ESM build: same class.
type ProviderClient = ConstructorParameters<typeof FlagsmithOpenFeatureProvider>[0];
const providerOptions = {
  returnValueForDisabledFlags: false,
  useFlagsmithDefaults: false,
  useBooleanConfigValue: false,
} as const;

/** Flagsmith's offline mode: every evaluation from an environment document on disk. */
function flagsmithOfflineProvider(file: string, logger: Logger): Provider {
  const client = new Flagsmith({
    offlineMode: true,
    offlineHandler: new LocalFileHandler(file),
    logger: logger as unknown as NonNullable<ConstructorParameters<typeof Flagsmith>[0]>['logger'],
  });
  return new FlagsmithOpenFeatureProvider(client as unknown as ProviderClient, providerOptions);
}

/**
 * Flagsmith's API with a fallback. flagsmith-nodejs, given an offlineHandler, evaluates from it
 * always (its getEnvironment() returns the handler's document before the API's), so the fallback
 * is a second provider instead: it answers while the SDK holds no environment document from the
 * API (Flagsmith unreachable at start) and for a flag that Flagsmith does not know or cannot
 * resolve. Once a document has arrived the SDK keeps the last one through failed polls.
 */
export class FlagsmithWithFallbackProvider implements Provider {
  readonly metadata: { name: string };
  readonly runsOn = 'server' as const;
  private readonly client: Flagsmith;
  private readonly primary: Provider;
  private hasDocument = false;
  private failedBefore = false;

  constructor(
    cfg: FlagsSettings & { FLAGSMITH_ENVIRONMENT_KEY: string },
    private readonly fallback: Provider | undefined,
    private readonly logger: Logger,
  ) {
    const local = cfg.FLAGSMITH_LOCAL_EVALUATION ?? false;
    this.metadata = {
      name: `flagsmith${local ? '-local' : ''}${fallback ? `+${fallback.metadata.name}` : ''}`,
    };
    this.client = new Flagsmith({
      environmentKey: cfg.FLAGSMITH_ENVIRONMENT_KEY,
      ...(cfg.FLAGSMITH_API_URL ? { apiUrl: cfg.FLAGSMITH_API_URL } : {}),
      enableLocalEvaluation: local,
      environmentRefreshIntervalSeconds: cfg.FLAGSMITH_REFRESH_SECONDS ?? 60,
      requestTimeoutSeconds: 3,
      retries: 1,
      requestRetryDelayMilliseconds: 200,
      logger: logger as unknown as NonNullable<ConstructorParameters<typeof Flagsmith>[0]>['logger'],
      onEnvironmentChange: (error) => this.onEnvironment(error),
    });
    this.primary = new FlagsmithOpenFeatureProvider(
      this.client as unknown as ProviderClient,
      providerOptions,
    );
    // Remote evaluation asks the API per evaluation: there is no document to wait for.
    if (!local) this.hasDocument = true;
  }

  private onEnvironment(error: unknown): void {
    if (error) {
      if (!this.failedBefore)
        this.logger.warn(
          { err: error, fallback: this.fallback?.metadata.name ?? null, hasDocument: this.hasDocument },
          this.hasDocument
            ? 'Flagsmith environment document refresh failed; keeping the last one'
            : 'Flagsmith unreachable; flags come from the fallback until its environment document arrives',
        );
      this.failedBefore = true;
      return;
    }
    if (!this.hasDocument || this.failedBefore) this.logger.info('Flagsmith environment document received');
    this.hasDocument = true;
    this.failedBefore = false;
  }

  async initialize(): Promise<void> {
    await this.fallback?.initialize?.();
    // Local evaluation: fetch the document now (bounded by the request timeout and retries); a
    // failure is logged and the SDK's poller keeps trying every FLAGSMITH_REFRESH_SECONDS.
    if (!this.hasDocument) await this.client.updateEnvironment();
    else if (!this.fallback) await this.primary.initialize?.();
  }

  async onClose(): Promise<void> {
    await this.client.close();
    await this.fallback?.onClose?.();
  }

  readonly resolveBooleanEvaluation: Provider['resolveBooleanEvaluation'] = (k, d, c, l) =>
    this.resolve((p) => p.resolveBooleanEvaluation(k, d, c, l));
  readonly resolveStringEvaluation: Provider['resolveStringEvaluation'] = (k, d, c, l) =>
    this.resolve((p) => p.resolveStringEvaluation(k, d, c, l));
  readonly resolveNumberEvaluation: Provider['resolveNumberEvaluation'] = (k, d, c, l) =>
    this.resolve((p) => p.resolveNumberEvaluation(k, d, c, l));
  readonly resolveObjectEvaluation = (<T extends JsonValue>(
    k: string,
    d: T,
    c: EvaluationContext,
    l: OFLogger,
  ) => this.resolve((p) => p.resolveObjectEvaluation<T>(k, d, c, l))) as Provider['resolveObjectEvaluation'];

  private async resolve<T>(
    run: (p: Provider) => Promise<ResolutionDetails<T>>,
  ): Promise<ResolutionDetails<T>> {
    const fallback = this.fallback;
    if (!fallback) return run(this.primary);
    if (!this.hasDocument) return withSource(await run(fallback), 'fallback');
    try {
      const details = await run(this.primary);
      if (!details.errorCode) return details;
    } catch {
      // An error of the primary (disabled non-boolean flag, SDK failure): the fallback answers.
    }
    return withSource(await run(fallback), 'fallback');
  }
}

function withSource<T>(details: ResolutionDetails<T>, source: string): ResolutionDetails<T> {
  return { ...details, flagMetadata: { ...(details.flagMetadata ?? {}), source } };
}

function flagsmithProvider(cfg: FlagsSettings, logger: Logger): Provider {
  const key = cfg.FLAGSMITH_ENVIRONMENT_KEY;
  if (!key) {
    if (cfg.FLAGSMITH_OFFLINE_FILE) return flagsmithOfflineProvider(cfg.FLAGSMITH_OFFLINE_FILE, logger);
    if (!cfg.FLAGS_FILE)
      throw new Error(
        'FLAGSMITH_ENVIRONMENT_KEY, FLAGSMITH_OFFLINE_FILE or FLAGS_FILE is required when FLAGS_PROVIDER=flagsmith',
      );
    // No server-side key yet (its Secret is made once Flagsmith runs): the fallback alone.
    logger.warn(
      { file: cfg.FLAGS_FILE },
      'FLAGS_PROVIDER=flagsmith without FLAGSMITH_ENVIRONMENT_KEY: flags from FLAGS_FILE only',
    );
    return new FlagdFileProvider(cfg.FLAGS_FILE, logger, cfg.FLAGS_POLL_MS ?? 1000);
  }
  // The fallback: Flagsmith's own environment document if one is given, else the flagd file.
  const fallback = cfg.FLAGSMITH_OFFLINE_FILE
    ? flagsmithOfflineProvider(cfg.FLAGSMITH_OFFLINE_FILE, logger)
    : cfg.FLAGS_FILE
      ? new FlagdFileProvider(cfg.FLAGS_FILE, logger, cfg.FLAGS_POLL_MS ?? 1000)
      : undefined;
  return new FlagsmithWithFallbackProvider({ ...cfg, FLAGSMITH_ENVIRONMENT_KEY: key }, fallback, logger);
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
    provider = flagsmithProvider(cfg, logger);
  }
  if (provider) await OpenFeature.setProviderAndWait(domain, provider);
  const client = OpenFeature.getClient(domain);
  // OpenTelemetry's feature-flag conventions: an event per evaluation on the active (request's)
  // span, with feature_flag.key, feature_flag.result.variant, feature_flag.provider.name, ...
  // attributes. An event rather than a span of its own: a span per evaluation was 7 of the 63
  // spans of an order (issue 16, docs/performance.md).
  client.addHooks(metricsHook(metrics), new SpanEventHook());
  logger.info(
    { provider: cfg.FLAGS_PROVIDER, providerName: provider?.metadata.name ?? 'none', file: cfg.FLAGS_FILE },
    'feature flags ready',
  );
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
