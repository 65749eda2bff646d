import type { z } from 'zod';
import { type BaseConfig, loadConfigOrExit } from './config.js';
import { type Flags, initFlags } from './flags.js';
import { Health } from './health.js';
import type { HttpApp, ServiceInfo } from './http.js';
import { Lifecycle } from './lifecycle.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { shutdownTelemetry } from './telemetry.js';

/** What every service's composition root receives. */
export interface ServiceKit<C> {
  config: C;
  info: ServiceInfo;
  logger: Logger;
  metrics: Metrics;
  health: Health;
  flags: Flags;
  lifecycle: Lifecycle;
}

export interface ServiceDefinition<S extends z.ZodType<BaseConfig>> {
  name: string;
  config: S;
  /** Connection settings for this machine, applied only outside production. */
  localDefaults?: Record<string, string>;
  /** Creates the adapters (registering their closers on `kit.lifecycle`) and returns the app. */
  start(kit: ServiceKit<z.output<S>>): Promise<HttpApp>;
}

/**
 * The process part of a service (`server.ts`): config, logger, metrics, flags, the app,
 * listen, and the contract's shutdown on SIGTERM/SIGINT.
 */
export async function runService<S extends z.ZodType<BaseConfig>>(def: ServiceDefinition<S>): Promise<void> {
  const config = loadConfigOrExit(def.config, process.env, def.localDefaults);
  const info: ServiceInfo = { service: def.name, version: config.SERVICE_VERSION, commit: config.GIT_COMMIT };
  const logger = createLogger({
    service: def.name,
    level: config.LOG_LEVEL,
    version: config.SERVICE_VERSION,
  });
  const metrics = new Metrics(info);
  const health = new Health();
  const lifecycle = new Lifecycle({
    logger,
    health,
    drainMs: config.SHUTDOWN_DRAIN_MS,
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  }).installSignalHandlers();

  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    process.exitCode = 1;
    void lifecycle.shutdown('uncaughtException');
  });
  process.on('unhandledRejection', (err) => {
    logger.error({ err }, 'unhandled promise rejection');
  });

  try {
    const flags = await initFlags(config, { logger, metrics, domain: def.name });
    const app = await def.start({ config, info, logger, metrics, health, flags, lifecycle });
    lifecycle.on('server', 'http', () => app.close());
    lifecycle.on('pools', 'feature-flags', () => flags.close());
    lifecycle.on('telemetry', 'opentelemetry', shutdownTelemetry);
    await app.listen({ host: config.HOST, port: config.PORT });
    logger.info({ port: config.PORT }, `${def.name} listening`);
  } catch (err) {
    // One clear line for humans, the full error for the log pipeline.
    process.stderr.write(`${def.name} failed to start: ${(err as Error).message}\n`);
    logger.fatal({ err }, 'start failed');
    process.exit(1);
  }
}
