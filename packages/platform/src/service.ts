import path from 'node:path';
import type { z } from 'zod';
import { type BaseConfig, loadConfigOrExit, serviceConfig } from './config.js';
import { type Flags, initFlags } from './flags.js';
import { Health } from './health.js';
import type { HttpApp, ServiceInfo } from './http.js';
import { Lifecycle } from './lifecycle.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { packageRoot } from './paths.js';
import { migrate } from './postgres.js';
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

/** What a service's `buildApp` takes from the kit (tests build these themselves). */
export type AppKit = Pick<ServiceKit<unknown>, 'info' | 'logger' | 'metrics' | 'health' | 'flags'>;

/**
 * A service as the rest of the repository sees it (its `src/config.ts` exports one): name, local
 * port, settings, local defaults, migrations. `npm start`, the end-to-end and container stacks
 * and the benchmarks derive their table of services from these (@mdp/stack), so nothing else
 * lists them.
 */
export interface ServiceSpec<Shape extends z.ZodRawShape = z.ZodRawShape> {
  name: string;
  /** Local port (the platform contract's table); inside a container every service listens on 8080. */
  port: number;
  /** The service's own settings; the shared ones (PORT, LOG_LEVEL, FLAGS_*, ...) are added. */
  settings: Shape;
  /** Connection settings for this machine, applied only outside production. */
  localDefaults: Partial<Record<keyof Shape & string, string>>;
  /** The setting holding the database URL whose `migrations/` (SQL, node-pg-migrate) the service owns. */
  migrations?: { setting: keyof Shape & string; dir: string };
}

export type ServiceDefinition<Shape extends z.ZodRawShape> = ServiceSpec<Shape> & {
  config: ReturnType<typeof serviceConfig<Shape>>;
};

/** A service's definition; `migrationsOf: import.meta.url` of a module in it locates its `migrations/`. */
export function defineService<Shape extends z.ZodRawShape>(
  spec: Omit<ServiceSpec<Shape>, 'migrations'> & {
    migrations?: { setting: keyof Shape & string; from: string };
  },
): ServiceDefinition<Shape> {
  const { migrations, ...rest } = spec;
  return {
    ...rest,
    ...(migrations
      ? {
          migrations: {
            setting: migrations.setting,
            dir: path.join(packageRoot(migrations.from), 'migrations'),
          },
        }
      : {}),
    config: serviceConfig(spec.port, spec.settings),
  };
}

const isPostgres = (url: string) => /^postgres(ql)?:/.test(url);

/**
 * The one rule for migrations: a service applies its own SQL migrations at start-up outside
 * production only (development, tests); in production the migration Job (`migrate` command)
 * applies them before the new version serves. They apply to a PostgreSQL URL only (the catalog on
 * MongoDB has none: databases/mongodb/init.js owns its schema). Returns the names applied.
 */
export async function migrateAtStart(
  spec: Pick<ServiceSpec, 'migrations' | 'name'>,
  config: { NODE_ENV?: string } & Record<string, unknown>,
  logger?: Logger,
): Promise<string[]> {
  if (!spec.migrations || config.NODE_ENV === 'production') return [];
  return applyMigrations(spec, String(config[spec.migrations.setting] ?? ''), logger);
}

async function applyMigrations(
  spec: Pick<ServiceSpec, 'migrations' | 'name'>,
  url: string,
  logger?: Logger,
): Promise<string[]> {
  if (!spec.migrations || !isPostgres(url)) {
    logger?.info(`${spec.name}: no SQL migrations for this store`);
    return [];
  }
  const applied = await migrate(url, spec.migrations.dir, logger);
  if (applied.length) logger?.info({ applied }, 'migrations applied');
  return applied;
}

/**
 * A connection setting for a command of the service (migrate, seed): from the environment, or its
 * local default outside production; missing, the command stops with one line (exit 78).
 */
export function commandSetting(spec: Pick<ServiceSpec, 'localDefaults'>, setting: string): string {
  const value =
    process.env[setting] ||
    (process.env.NODE_ENV === 'production'
      ? undefined
      : (spec.localDefaults as Record<string, string | undefined>)[setting]);
  if (!value) {
    process.stderr.write(`config error: ${setting} is missing\n`);
    process.exit(78);
  }
  return value;
}

/**
 * A service's `migrate` command (the Kubernetes migration Job runs it): applies its migrations to
 * the URL in its migrations setting (the local default outside production) and exits; one line
 * on failure.
 */
export async function migrateCommand(spec: ServiceSpec): Promise<void> {
  if (!spec.migrations) return;
  const url = commandSetting(spec, spec.migrations.setting);
  const line = (fields: Record<string, unknown>) =>
    process.stdout.write(`${JSON.stringify({ level: 'info', service: spec.name, ...fields })}\n`);
  try {
    if (!isPostgres(url)) line({ msg: 'no SQL migrations for this store' });
    else line({ msg: 'migrations applied', applied: await migrate(url, spec.migrations.dir) });
  } catch (err) {
    process.stderr.write(`${spec.name} migration failed: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

/**
 * The process part of a service (`server.ts`): config, logger, metrics, flags, migrations (outside
 * production), the app, listen, and the contract's shutdown on SIGTERM/SIGINT.
 * `start` creates the adapters (registering their closers on `kit.lifecycle`) and returns the app.
 */
export async function runService<Shape extends z.ZodRawShape>(
  def: ServiceDefinition<Shape>,
  start: (kit: ServiceKit<z.output<ServiceDefinition<Shape>['config']>>) => Promise<HttpApp>,
): Promise<void> {
  const config = loadConfigOrExit(def.config, process.env, def.localDefaults as Record<string, string>);
  const base = config as unknown as BaseConfig & Record<string, unknown>;
  const info: ServiceInfo = { service: def.name, version: base.SERVICE_VERSION, commit: base.GIT_COMMIT };
  const logger = createLogger({
    service: def.name,
    level: base.LOG_LEVEL,
    version: base.SERVICE_VERSION,
  });
  const metrics = new Metrics(info);
  const health = new Health();
  const lifecycle = new Lifecycle({
    logger,
    health,
    drainMs: base.SHUTDOWN_DRAIN_MS,
    timeoutMs: base.SHUTDOWN_TIMEOUT_MS,
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
    await migrateAtStart(def, base, logger);
    const flags = await initFlags(base, { logger, metrics, domain: def.name });
    const app = await start({ config, info, logger, metrics, health, flags, lifecycle });
    lifecycle.on('server', 'http', () => app.close());
    lifecycle.on('pools', 'feature-flags', () => flags.close());
    lifecycle.on('telemetry', 'opentelemetry', shutdownTelemetry);
    await app.listen({ host: base.HOST, port: base.PORT });
    logger.info({ port: base.PORT }, `${def.name} listening`);
  } catch (err) {
    // One clear line for humans, the full error for the log pipeline.
    process.stderr.write(`${def.name} failed to start: ${(err as Error).message}\n`);
    logger.fatal({ err }, 'start failed');
    process.exit(1);
  }
}
