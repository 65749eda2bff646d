/**
 * The table of services, derived from services/* and nothing else: each folder's
 * `src/config.ts` exports its `definition` (@mdp/platform/service), which names the service, its
 * local port, its settings, their local defaults and its migrations. What a service needs is read
 * from its settings:
 *
 *   DATABASE_URL / PRODUCT_DB_URL with a postgres:// local default → a PostgreSQL database of that name
 *   REDIS_URL → Redis            AMQP_URL → RabbitMQ
 *   <NAME>_SERVICE_URL → calls <name>-service (the launcher gives its URL)
 *   JWT_PRIVATE_KEY → signs access tokens    JWT_PUBLIC_KEY → verifies them
 *   JWT_SERVICE_PRIVATE_KEY → signs service tokens    JWT_SERVICE_PUBLIC_KEY → verifies them (/internal)
 *
 * `npm start` (scripts/start.ts), the end-to-end stack (./processes.ts), the container stack
 * (tests/containers/stack.ts) and the benchmarks (through those) all use this table; a test
 * (tests/contract/services.test.ts) fails when it, the Kubernetes overlays and services/* disagree.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '@mdp/platform/paths';
import type { ServiceDefinition } from '@mdp/platform/service';
import type { z } from 'zod';

/** The repository (this package is packages/stack). */
export const ROOT = path.resolve(packageRoot(import.meta.url), '../..');
/** The one service clients talk to. */
export const GATEWAY = 'api-gateway';

export interface ServiceEntry {
  name: string;
  /** Local port of the platform contract (8080-8084). */
  port: number;
  dir: string;
  /** The PostgreSQL database it owns: its name (from the local default) and the setting naming it. */
  database?: { name: string; setting: string };
  /** Its `migrations/` folder, applied to `database` (SQL, node-pg-migrate). */
  migrations?: string;
  /** `src/seed.ts`, loading demo data into an empty store, if it has one. */
  seed?: string;
  needs: {
    redis: boolean;
    rabbitmq: boolean;
    /** Services it calls, by name (each gets a `<NAME>_SERVICE_URL`). */
    services: string[];
    signsTokens: boolean;
    verifiesTokens: boolean;
    signsServiceTokens: boolean;
    verifiesServiceTokens: boolean;
  };
  /** Every setting the service's schema knows. */
  settings: string[];
  definition: ServiceDefinition<z.ZodRawShape>;
}

const SERVICE_URL = /^([A-Z][A-Z0-9]*)_SERVICE_URL$/;
export const serviceUrlSetting = (service: string) =>
  `${service
    .replace(/-service$/, '')
    .replace(/-/g, '_')
    .toUpperCase()}_SERVICE_URL`;

function databaseOf(def: ServiceDefinition<z.ZodRawShape>): ServiceEntry['database'] {
  const local = def.localDefaults as Record<string, string | undefined>;
  const setting =
    def.migrations?.setting ?? Object.keys(local).find((k) => /^postgres(ql)?:/.test(local[k] ?? ''));
  const url = setting ? local[setting] : undefined;
  if (!setting || !url || !/^postgres(ql)?:/.test(url)) return undefined;
  return { name: decodeURIComponent(new URL(url).pathname.slice(1)), setting };
}

/** What services/<name>/src/config.ts says about the service. */
export async function describeService(name: string): Promise<ServiceEntry> {
  const dir = path.join(ROOT, 'services', name);
  const mod = (await import(pathToFileURL(path.join(dir, 'src/config.ts')).href)) as {
    definition?: ServiceDefinition<z.ZodRawShape>;
  };
  const def = mod.definition;
  if (!def) throw new Error(`services/${name}/src/config.ts exports no \`definition\` (defineService)`);
  if (def.name !== name) throw new Error(`services/${name} calls itself ${def.name}`);
  const settings = Object.keys(def.settings);
  const has = (s: string) => settings.includes(s);
  const database = databaseOf(def);
  const seed = path.join(dir, 'src/seed.ts');
  return {
    name,
    port: def.port,
    dir,
    ...(database ? { database } : {}),
    ...(def.migrations && existsSync(def.migrations.dir) ? { migrations: def.migrations.dir } : {}),
    ...(existsSync(seed) ? { seed } : {}),
    needs: {
      redis: has('REDIS_URL'),
      rabbitmq: has('AMQP_URL'),
      services: settings
        .map((s) => SERVICE_URL.exec(s)?.[1])
        .filter((n): n is string => Boolean(n))
        .map((n) => `${n.toLowerCase().replace(/_/g, '-')}-service`),
      signsTokens: has('JWT_PRIVATE_KEY'),
      verifiesTokens: has('JWT_PUBLIC_KEY'),
      signsServiceTokens: has('JWT_SERVICE_PRIVATE_KEY'),
      verifiesServiceTokens: has('JWT_SERVICE_PUBLIC_KEY'),
    },
    settings,
    definition: def,
  };
}

/** Every folder of services/ with a package.json, as the table, by port. */
export async function loadServices(): Promise<ServiceEntry[]> {
  const names = readdirSync(path.join(ROOT, 'services'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(ROOT, 'services', d.name, 'package.json')))
    .map((d) => d.name);
  const entries = await Promise.all(names.map(describeService));
  entries.sort((a, b) => a.port - b.port);
  const ports = new Set(entries.map((e) => e.port));
  if (ports.size !== entries.length) throw new Error('two services share a local port');
  for (const e of entries)
    for (const callee of e.needs.services)
      if (!entries.some((x) => x.name === callee))
        throw new Error(`${e.name} calls ${callee}, which is not a folder of services/`);
  if (!entries.some((e) => e.name === GATEWAY)) throw new Error(`no ${GATEWAY} in services/`);
  return entries;
}
