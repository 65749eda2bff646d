import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Ajv, type Options as AjvOptions } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { AppError, type ErrorBody, type ErrorMap } from './errors.js';
import { type Flags, featureGate } from './flags.js';
import type { Health } from './health.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { ErrorResponseSchema, type OpenApiInfo, registerOpenApi } from './openapi.js';

export interface ServiceInfo {
  service: string;
  version: string;
  commit: string;
}

export interface HttpAppOptions {
  logger: Logger;
  info: ServiceInfo;
  metrics: Metrics;
  health: Health;
  /**
   * The service's feature flags. A route that names a flag in its config
   * (`config: { featureFlag: 'orders.create' }`) answers 503 FEATURE_DISABLED while that flag is
   * off; without `flags` the gate reads the service's OpenFeature domain (code defaults: on).
   */
  flags?: Flags | undefined;
  bodyLimit?: number;
  /** Whole-request timeout (ms); a slow client cannot hold a socket forever. */
  requestTimeoutMs?: number;
  /**
   * Behind one proxy (the ingress, the gateway): trust exactly one hop, the peer that connected.
   * The client IP is then the address that proxy appended to X-Forwarded-For, so a client cannot
   * choose it by sending its own header.
   */
  trustOneProxy?: boolean;
  /** The service's error map: its domain errors as contract errors (no try/catch in handlers). */
  errors?: ErrorMap;
  /** Root-level plugins and hooks the service needs before its routes (CORS, rate limits, ...). */
  setup?: (app: HttpApp) => void;
  /** Documents the routes at `GET /openapi.json` (@fastify/swagger). */
  openapi?: Omit<OpenApiInfo, 'version'>;
  /**
   * The service's routes, declared inside a plugin registered after `setup` and the OpenAPI
   * document, so that @fastify/swagger (and plugins such as rate limits) see them.
   */
  routes?: (scope: HttpApp) => void;
}

export type HttpApp = FastifyInstance<
  import('node:http').Server,
  import('node:http').IncomingMessage,
  import('node:http').ServerResponse,
  Logger,
  TypeBoxTypeProvider
>;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const PROBE_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/** Body: strict (no type coercion, no silent removal of unknown fields). Query/params/headers: coerced from strings. */
function validators() {
  const base: AjvOptions = { allErrors: false, useDefaults: true, removeAdditional: false, strict: true };
  const body = addFormats.default(new Ajv({ ...base, coerceTypes: false }));
  const rest = addFormats.default(new Ajv({ ...base, coerceTypes: 'array' }));
  return { body, rest };
}

function errorBody(request: FastifyRequest, code: string, message: string, details?: unknown): ErrorBody {
  return {
    error: { code, message, requestId: String(request.id), ...(details === undefined ? {} : { details }) },
  };
}

const FASTIFY_CODES: Record<string, { status: number; code: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'PAYLOAD_TOO_LARGE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'BAD_REQUEST' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'INVALID_JSON' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'INVALID_JSON' },
};

const STATUS_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE',
  429: 'TOO_MANY_REQUESTS',
  502: 'BAD_GATEWAY',
  503: 'UNAVAILABLE',
  504: 'GATEWAY_TIMEOUT',
};

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);
const OUTAGE_MESSAGES =
  /Connection is closed|Command timed out|encountered a connection error and is not queryable|Reached the max retries per request|Connection terminated|timeout exceeded when trying to connect|Stream isn't writeable|^(NOREPLICAS|READONLY|LOADING|MASTERDOWN) /;
/**
 * PostgreSQL during a failover: connection exceptions (class 08), the server shutting down or
 * still starting (57P01-57P03), a read-only transaction on a node that is not (or no longer) the primary.
 */
const PG_OUTAGE = /^(08...|57P0[123]|25006)$/;

/**
 * A datastore or broker that is down or too slow (pg, ioredis, amqplib errors): the request is
 * answered 503 with Retry-After, which callers may retry, instead of a generic 500.
 */
export function isDependencyOutage(error: unknown): boolean {
  const e = error as { code?: unknown; name?: unknown; message?: unknown } | undefined;
  if (!e) return false;
  if (typeof e.code === 'string' && (NETWORK_CODES.has(e.code) || PG_OUTAGE.test(e.code))) return true;
  if (e.name === 'MaxRetriesPerRequestError' || e.name === 'ReplicationError') return true;
  return typeof e.message === 'string' && OUTAGE_MESSAGES.test(e.message);
}

/** Maps any thrown error to the contract's error shape; only real faults are 5xx. */
export function sendError(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
  errors?: ErrorMap,
) {
  const mapped = errors?.(error);
  if (mapped) {
    if (mapped.status >= 500) request.log.warn({ err: error }, 'request failed');
    if (mapped.headers) reply.headers(mapped.headers);
    return reply.code(mapped.status).send(errorBody(request, mapped.code, mapped.message, mapped.details));
  }
  if (error instanceof AppError) {
    if (error.statusCode >= 500) request.log.warn({ err: error }, 'request failed');
    return reply.code(error.statusCode).send(errorBody(request, error.code, error.message, error.details));
  }
  const fe = error as FastifyError;
  if (fe.validation) {
    return reply.code(400).send(errorBody(request, 'VALIDATION_FAILED', fe.message));
  }
  const known = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (known) return reply.code(known.status).send(errorBody(request, known.code, fe.message));
  if (error instanceof SyntaxError)
    return reply.code(400).send(errorBody(request, 'INVALID_JSON', error.message));
  const status = fe.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return reply.code(status).send(errorBody(request, STATUS_CODES[status] ?? 'BAD_REQUEST', fe.message));
  }
  if (isDependencyOutage(error)) {
    request.log.warn({ err: error }, 'dependency unavailable');
    reply.header('retry-after', '1');
    return reply
      .code(503)
      .send(errorBody(request, 'DEPENDENCY_UNAVAILABLE', 'a dependency is unavailable; retry'));
  }
  request.log.error({ err: error }, 'unhandled error');
  return reply
    .code(status >= 500 && status < 600 ? status : 500)
    .send(errorBody(request, STATUS_CODES[status] ?? 'INTERNAL', 'internal error'));
}

const ErrorSchema = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), requestId: Type.String() }),
});

/**
 * The Fastify app every service starts from: request ids, the contract's JSON errors,
 * strict validation, metrics per route pattern, and the health/metrics/version endpoints.
 * It does not listen; `server.ts` does.
 */
export function createHttpApp(opts: HttpAppOptions): HttpApp {
  const { logger, metrics, health, info } = opts;
  const startedAt = new Date().toISOString();
  const app = Fastify({
    loggerInstance: logger,
    // One 'request' line per request (onResponse below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    requestTimeout: opts.requestTimeoutMs ?? 30_000,
    connectionTimeout: 60_000,
    keepAliveTimeout: 65_000,
    // Closing (after the drain): a request still arriving on an open connection is served, with
    // `connection: close` (the hook below), not refused with a 503 — the app works until the
    // server has closed, its pools close after.
    return503OnClosing: false,
    trustProxy: opts.trustOneProxy ? (_address: string, hop: number) => hop === 0 : false,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // Errors Fastify answers before routing (a malformed percent-escape, a path parameter over
    // maxParamLength): in the contract's error shape like every other 4xx.
    frameworkErrors: (error, request, reply) => {
      const message =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is too long' : 'malformed request URL';
      const r = reply as unknown as FastifyReply;
      r.header('x-request-id', request.id);
      void r.code(400).send(errorBody(request as FastifyRequest, 'BAD_REQUEST', message));
    },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as HttpApp;

  // The one error schema every route's documented error answers reference (openapi.ts).
  app.addSchema(ErrorResponseSchema);

  const { body, rest } = validators();
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? body.compile(schema) : rest.compile(schema),
  );

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // Only origin-form targets (`/path?query`): no service here is a forward proxy, and an
    // absolute-form one (`GET https://host/path`) would otherwise reach routes as a bogus path.
    if (!request.raw.url?.startsWith('/'))
      throw new AppError(400, 'BAD_REQUEST', 'the request target must be a path (origin-form), not a URL');
  });

  // The one kill-switch gate: every route declaring `config.featureFlag` is checked per request.
  app.addHook('onRequest', featureGate(opts.flags, info.service));

  // Draining (SIGTERM received): each answer closes its keep-alive connection, so callers open
  // their next one through the Service, to a process that stays, and the server can close. Set on
  // send, after a proxied answer's own headers (the gateway's reply-from) are in place.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (health.shuttingDown) reply.header('connection', 'close');
    done(null, payload);
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const labels = { method: request.method, route, status_code: String(reply.statusCode) };
    const seconds = reply.elapsedTime / 1000;
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, seconds);
    const line = {
      method: request.method,
      route,
      statusCode: reply.statusCode,
      durationMs: reply.elapsedTime,
    };
    if (PROBE_ROUTES.has(route)) request.log.debug(line, 'request');
    else request.log.info(line, 'request');
  });

  app.setErrorHandler((error, request, reply) =>
    sendError(error as FastifyError, request, reply, opts.errors),
  );
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(errorBody(request, 'NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`)),
  );

  app.get(
    '/healthz',
    { schema: { response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        response: {
          200: Type.Object({ status: Type.String(), checks: Type.Record(Type.String(), Type.Unknown()) }),
          503: Type.Object({
            status: Type.String(),
            checks: Type.Record(Type.String(), Type.Unknown()),
            error: ErrorSchema.properties.error,
          }),
        },
      },
    },
    async (request, reply) => {
      const r = await health.readiness();
      if (r.ready) return reply.code(200).send({ status: 'ready', checks: r.checks });
      const message = r.shuttingDown
        ? 'shutting down'
        : `dependency failing: ${r.failing.map((n) => `${n} (${r.checks[n]?.error ?? 'failed'})`).join(', ')}`;
      return reply.code(503).send({
        status: r.shuttingDown ? 'shutting_down' : 'not_ready',
        checks: r.checks,
        error: { code: 'NOT_READY', message, requestId: String(request.id) },
      });
    },
  );

  app.get('/metrics', { schema: { response: { 200: Type.String() } } }, async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  app.get(
    '/version',
    {
      schema: {
        response: {
          200: Type.Object({
            service: Type.String(),
            version: Type.String(),
            commit: Type.String(),
            startedAt: Type.String(),
          }),
        },
      },
    },
    async () => ({ ...info, startedAt }),
  );

  opts.setup?.(app);
  if (opts.openapi) registerOpenApi(app, { ...opts.openapi, version: info.version });
  const { routes } = opts;
  if (routes)
    app.register(async (scope: HttpApp) => {
      routes(scope);
    });
  return app;
}

export { ErrorSchema };
