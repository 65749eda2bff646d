import { createPrivateKey, createPublicKey } from 'node:crypto';
import { z } from 'zod';

/**
 * Configuration from the environment, validated by a zod schema per service.
 * A missing or malformed setting is reported as ONE line naming the setting;
 * the value itself is never printed (it may hold a password).
 */

export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    readonly problem: string,
  ) {
    super(`config error: ${setting} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function describe(issue: z.core.$ZodIssue, env: Env): { setting: string; problem: string } {
  const setting = String(issue.path[0] ?? '(root)');
  if (issue.code === 'custom') return { setting, problem: issue.message };
  const raw = env[setting];
  if (raw === undefined || raw === '') return { setting, problem: 'is missing' };
  return { setting, problem: `is invalid: ${issue.message}` };
}

/**
 * `localDefaults` fill unset settings everywhere but in production (NODE_ENV=production),
 * where every connection setting must be given explicitly.
 */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  env: Env = process.env,
  localDefaults: Env = {},
): z.output<S> {
  // Empty strings count as unset, so `FOO=` falls back to the default like a missing FOO.
  const cleaned: Env = env.NODE_ENV === 'production' ? {} : { ...localDefaults };
  for (const [k, v] of Object.entries(env)) if (v !== '' && v !== undefined) cleaned[k] = v;
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const first = result.error.issues[0];
  if (!first) throw new ConfigError('(unknown)', 'is invalid');
  const { setting, problem } = describe(first, cleaned);
  throw new ConfigError(setting, problem);
}

/** For `server.ts`: parse or print one line to stderr and exit 78 (EX_CONFIG). */
export function loadConfigOrExit<S extends z.ZodType>(
  schema: S,
  env: Env = process.env,
  localDefaults: Env = {},
): z.output<S> {
  try {
    return parseConfig(schema, env, localDefaults);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
}

// ---- building blocks for service schemas -------------------------------------------------

const urlWithScheme = (schemes: string[]) =>
  z.string().refine(
    (v) => {
      try {
        const u = new URL(v);
        return schemes.includes(u.protocol.replace(/:$/, '')) && u.hostname !== '';
      } catch {
        return false;
      }
    },
    { message: `must be a URL with scheme ${schemes.map((s) => `${s}://`).join(' or ')}` },
  );

export const postgresUrl = () => urlWithScheme(['postgres', 'postgresql']);
export const redisUrl = () => urlWithScheme(['redis', 'rediss']);
export const amqpUrl = () => urlWithScheme(['amqp', 'amqps']);
export const httpUrl = () => urlWithScheme(['http', 'https']);
export const mongoOrPostgresUrl = () => urlWithScheme(['mongodb', 'mongodb+srv', 'postgres', 'postgresql']);

/** `host:port,host:port` (at least one), e.g. the Redis Sentinel addresses. */
export const hostPortList = () =>
  z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .refine((list) => list.length > 0 && list.every((hp) => /^[A-Za-z0-9.-]+:\d{1,5}$/.test(hp)), {
      message: 'must be a comma-separated list of host:port',
    })
    .transform((list) =>
      list.map((hp) => {
        const i = hp.lastIndexOf(':');
        return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
      }),
    );

/**
 * Redis whose data must survive the loss of its primary (refresh tokens, rate limits): with
 * REDIS_SENTINELS set, the client asks those Sentinels where the primary of REDIS_MASTER_NAME
 * is and follows every failover; REDIS_URL then gives only the password and database number
 * (its host is not used). Without REDIS_SENTINELS, REDIS_URL is the server.
 */
export const redisFailoverShape = () => ({
  REDIS_URL: redisUrl(),
  REDIS_SENTINELS: hostPortList().optional(),
  REDIS_MASTER_NAME: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be a Sentinel master name')
    .default('mdp'),
});

/**
 * A PEM key in an environment variable, also accepted with literal `\n` (as some secret stores
 * give it). The key must parse (node:crypto), and be of `keyType` when given: a bad key stops the
 * process at start with one line, not a 500 on every request that needs it. A PUBLIC KEY setting
 * may hold several PEM blocks one after the other: a key set, so that a signing key can rotate
 * (verifiers accept the old and the new key until the old one's tokens have expired).
 *   JWT_PUBLIC_KEY: pem('PUBLIC KEY', 'ed25519')
 */
export const pem = (label: 'PUBLIC KEY' | 'PRIVATE KEY', keyType?: 'ed25519') =>
  z
    .string()
    .transform((v) => v.replace(/\\n/g, '\n').trim())
    .superRefine((v, ctx) => {
      const what = `${keyType ? `an ${keyType === 'ed25519' ? 'Ed25519' : keyType} ` : 'a '}${label} PEM`;
      if (!v.startsWith(`-----BEGIN ${label}-----`) || !v.endsWith(`-----END ${label}-----`)) {
        ctx.addIssue({ code: 'custom', message: `must be ${what}` });
        return;
      }
      const blocks =
        label === 'PUBLIC KEY'
          ? (v.match(/-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g) ?? [])
          : [v];
      if (label === 'PUBLIC KEY' && blocks.join('').replace(/\s/g, '') !== v.replace(/\s/g, '')) {
        ctx.addIssue({ code: 'custom', message: `must be ${what} (or several, one after the other)` });
        return;
      }
      for (const block of blocks)
        try {
          const key = label === 'PUBLIC KEY' ? createPublicKey(block) : createPrivateKey(block);
          if (keyType && key.asymmetricKeyType !== keyType)
            ctx.addIssue({
              code: 'custom',
              message: `must be ${what} (it holds a ${key.asymmetricKeyType} key)`,
            });
        } catch {
          ctx.addIssue({ code: 'custom', message: `must be ${what} (it does not parse as a key)` });
        }
    });

/** This machine's datastores and services, for a service's `localDefaults` (never used in production). */
export const local = {
  postgres: (database: string) => `postgres://postgres@127.0.0.1:5432/${database}`,
  redis: 'redis://127.0.0.1:6379',
  amqp: 'amqp://guest:guest@127.0.0.1:5672',
  service: (port: number) => `http://127.0.0.1:${port}`,
};

export const port = (def: number) => z.coerce.number().int().min(0).max(65535).default(def);
export const millis = (def: number) => z.coerce.number().int().min(0).max(3_600_000).default(def);
export const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');

/** Settings every service shares (contract: PORT, shutdown timings, flags, identity). */
export const baseConfigShape = (defaultPort: number) => ({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().default('0.0.0.0'),
  PORT: port(defaultPort),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SERVICE_VERSION: z.string().default('0.0.0-dev'),
  GIT_COMMIT: z.string().default('unknown'),
  SHUTDOWN_DRAIN_MS: millis(0),
  SHUTDOWN_TIMEOUT_MS: millis(10_000),
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(50 * 1024 * 1024)
    .default(1024 * 1024),
  FLAGS_PROVIDER: z.enum(['file', 'flagsmith', 'none']).default('none'),
  FLAGS_FILE: z.string().optional(),
  FLAGS_POLL_MS: millis(1000),
  FLAGSMITH_ENVIRONMENT_KEY: z.string().optional(),
  FLAGSMITH_API_URL: httpUrl().optional(),
  FLAGSMITH_OFFLINE_FILE: z.string().optional(),
  // Local evaluation: the SDK polls the environment document (server-side key) and evaluates in-process.
  FLAGSMITH_LOCAL_EVALUATION: bool(false),
  FLAGSMITH_REFRESH_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
});

/**
 * A service's schema: the shared settings plus its own, with the cross-field checks.
 * `serviceConfig(8081, { DATABASE_URL: postgresUrl() })`.
 */
export function serviceConfig<Extra extends z.ZodRawShape>(defaultPort: number, extra: Extra) {
  return z.object({ ...baseConfigShape(defaultPort), ...extra }).superRefine((parsed, ctx) => {
    const cfg = parsed as unknown as BaseConfig;
    if (cfg.FLAGS_PROVIDER === 'file' && !cfg.FLAGS_FILE)
      ctx.addIssue({ code: 'custom', path: ['FLAGS_FILE'], message: 'is required when FLAGS_PROVIDER=file' });
    // Without a key (production before its Secret exists) the fallback file alone answers.
    if (
      cfg.FLAGS_PROVIDER === 'flagsmith' &&
      !cfg.FLAGSMITH_ENVIRONMENT_KEY &&
      !cfg.FLAGSMITH_OFFLINE_FILE &&
      !cfg.FLAGS_FILE
    )
      ctx.addIssue({
        code: 'custom',
        path: ['FLAGSMITH_ENVIRONMENT_KEY'],
        message: 'or FLAGSMITH_OFFLINE_FILE or FLAGS_FILE is required when FLAGS_PROVIDER=flagsmith',
      });
    if (
      cfg.FLAGSMITH_LOCAL_EVALUATION &&
      cfg.FLAGSMITH_ENVIRONMENT_KEY &&
      !cfg.FLAGSMITH_ENVIRONMENT_KEY.startsWith('ser.')
    )
      ctx.addIssue({
        code: 'custom',
        path: ['FLAGSMITH_ENVIRONMENT_KEY'],
        message: 'must be a server-side key (ser.…) when FLAGSMITH_LOCAL_EVALUATION=true',
      });
  });
}

export type BaseConfig = z.output<z.ZodObject<ReturnType<typeof baseConfigShape>>>;
export { z };
