/**
 * `npm run flags:report [--json]`: feature-flag coverage computed from what the services really
 * register. Each service's app is built (its own `buildApp`, with clients that never connect:
 * nothing is called while the routes register), Fastify's onRoute hook records every route, and
 * the event consumers the apps construct list their handlers. An operation is every route except
 * the platform's own endpoints (probes, metrics, version, OpenAPI, /docs) plus every event handler;
 * it is flagged when it declares a kill-switch flag (`config.featureFlag` / the consumer's
 * `featureFlags`) that exists in config/flags/flags.json. Exits 1 below 80 %.
 */
import { readFileSync } from 'node:fs';
import { buildApp as gateway } from '@mdp/api-gateway/app';
import { buildApp as notifications } from '@mdp/notification-service/app';
import { buildApp as orders } from '@mdp/order-service/app';
import { generateSigningKeys, jwtRouteAuth } from '@mdp/platform/auth';
import { registeredConsumers } from '@mdp/platform/consumer';
import { initFlags } from '@mdp/platform/flags';
import { Health } from '@mdp/platform/health';
import type { HttpApp } from '@mdp/platform/http';
import { createLogger } from '@mdp/platform/logger';
import { Metrics } from '@mdp/platform/metrics';
import { buildApp as products } from '@mdp/product-service/app';
import { buildApp as users } from '@mdp/user-service/app';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import { Redis } from 'ioredis';
import pg from 'pg';

export const TARGET = 0.8;
const FLAG_FILE = new URL('../../config/flags/flags.json', import.meta.url);
/** The platform's own endpoints (createHttpApp, OpenAPI, the gateway's docs UI): not operations. */
const PLATFORM = /^\/(healthz|readyz|metrics|version|openapi\.json)$|^\/docs(\/|$)/;

export interface Operation {
  service: string;
  operation: string;
  featureFlag: string | undefined;
}

export interface Report {
  coverage: number;
  operations: number;
  flagged: number;
  unflagged: string[];
  /** Flags named by an operation but missing from the flag file (counted as unflagged). */
  unknownFlags: string[];
  list: Operation[];
}

/** Builds every service's app and records its routes and event handlers. */
export async function registeredOperations(): Promise<Operation[]> {
  const logger = createLogger({ service: 'flags-report', level: 'silent' });
  const keys = await generateSigningKeys();
  const auth = jwtRouteAuth(keys.publicKey);
  const redis = new Redis({ lazyConnect: true, enableOfflineQueue: false });
  const db = new pg.Pool({ connectionString: 'postgres://127.0.0.1:1/none', max: 1 });
  // Only createChannel is called while a consumer is constructed; nothing is sent.
  const amqp = {
    createChannel: () => ({ waitForConnect: async () => {}, close: async () => {} }),
  } as unknown as AmqpConnectionManager;
  const out: Operation[] = [];
  const kit = async (service: string) => {
    const metrics = new Metrics({ version: 'report', commit: 'report' }, { defaultMetrics: false });
    const flags = await initFlags(
      { FLAGS_PROVIDER: 'none' },
      { logger, metrics, domain: `report-${service}` },
    );
    return {
      info: { service, version: 'report', commit: 'report' },
      logger,
      metrics,
      health: new Health(),
      flags,
    };
  };
  const record = (service: string, app: HttpApp) => {
    app.addHook('onRoute', (route) => {
      if (PLATFORM.test(route.url)) return;
      // @fastify/cors' preflight answer (OPTIONS *) is protocol plumbing, not an operation.
      if (route.method === 'OPTIONS' && route.url === '*') return;
      const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter(
        (m) => m !== 'HEAD',
      );
      if (!methods.length) return; // Fastify's automatic HEAD twin of a GET route
      out.push({
        service,
        operation: `${methods.join(',')} ${route.url}`,
        featureFlag: route.config?.featureFlag,
      });
    });
    return app;
  };
  const apps: HttpApp[] = [];
  const upstreams = { user: 'http://u', product: 'http://p', order: 'http://o', notification: 'http://n' };
  apps.push(
    record(
      'api-gateway',
      gateway({ ...(await kit('api-gateway')), redis, upstreams, jwtPublicKey: keys.publicKey }),
    ),
  );
  apps.push(
    record(
      'user-service',
      users({ ...(await kit('user-service')), db, redis, jwtPrivateKey: keys.privateKey }),
    ),
  );
  const catalog = { kind: 'postgres', check: async () => {} } as unknown as Parameters<
    typeof products
  >[0]['catalog'];
  apps.push(
    record(
      'product-service',
      products({
        ...(await kit('product-service')),
        catalog,
        redis,
        events: { stockLow: async () => {} },
        auth,
        // Only the registered routes are read here; no internal call is made.
        internalAuth: async () => {},
      }),
    ),
  );
  const inventory = { reserve: async () => [], release: async () => {} };
  apps.push(record('order-service', orders({ ...(await kit('order-service')), db, inventory, auth }).app));
  const n = notifications({ ...(await kit('notification-service')), db, amqp, auth, channels: {} });
  apps.push(record('notification-service', n.app));
  for (const app of apps) await app.ready();
  for (const consumer of registeredConsumers)
    for (const h of consumer.operations())
      out.push({
        service: 'notification-service',
        operation: `event ${h.eventType} (${h.queue})`,
        featureFlag: h.featureFlag,
      });
  for (const app of apps) await app.close();
  await n.consumer.stop();
  redis.disconnect();
  await db.end();
  return out;
}

export function coverageReport(list: Operation[], fileFlags: Set<string>): Report {
  const unknownFlags = [
    ...new Set(list.map((o) => o.featureFlag).filter((f): f is string => !!f && !fileFlags.has(f))),
  ];
  const ok = (o: Operation) => !!o.featureFlag && fileFlags.has(o.featureFlag);
  const flagged = list.filter(ok).length;
  return {
    coverage: list.length ? Math.round((flagged / list.length) * 10_000) / 10_000 : 0,
    operations: list.length,
    flagged,
    unflagged: list.filter((o) => !ok(o)).map((o) => `${o.service} ${o.operation}`),
    unknownFlags,
    list,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const json = process.argv.includes('--json');
  const fileFlags = new Set(
    Object.keys((JSON.parse(readFileSync(FLAG_FILE, 'utf8')) as { flags: object }).flags),
  );
  const report = coverageReport(await registeredOperations(), fileFlags);
  if (!json) {
    for (const o of report.list)
      process.stdout.write(
        `${o.featureFlag && fileFlags.has(o.featureFlag) ? 'flagged  ' : 'UNFLAGGED'} ${o.service.padEnd(21)} ${o.operation.padEnd(48)} ${o.featureFlag ?? '-'}\n`,
      );
    if (report.unknownFlags.length)
      process.stdout.write(`flags not in config/flags/flags.json: ${report.unknownFlags.join(', ')}\n`);
    process.stdout.write(
      `feature-flag coverage: ${(report.coverage * 100).toFixed(1)}% (${report.flagged}/${report.operations} operations; target ${TARGET * 100}%)\n`,
    );
  } else {
    const { coverage, operations, flagged, unflagged } = report;
    process.stdout.write(`${JSON.stringify({ coverage, operations, flagged, unflagged })}\n`);
  }
  process.exit(report.coverage >= TARGET ? 0 : 1);
}
