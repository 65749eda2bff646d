import swagger from '@fastify/swagger';
import { type TSchema, Type } from '@sinclair/typebox';
import type { HttpApp } from './http.js';

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
  /** The service's tags, each with a description (the gateway's combined document keeps them). */
  tags?: { name: string; description: string }[];
}

/** The id of the one shared error schema (`#/components/schemas/ErrorResponse` in the document). */
export const ERROR_SCHEMA_ID = 'ErrorResponse';

/** `{"error": {"code", "message", "requestId", "details"?}}`: every 4xx/5xx answer of every service. */
export const ErrorResponseSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'machine-readable code (the contract lists them)' }),
      message: Type.String({ description: 'for humans' }),
      requestId: Type.String({ description: 'the x-request-id of the request' }),
      details: Type.Optional(Type.Unknown({ description: 'code-specific details' })),
    }),
  },
  { $id: ERROR_SCHEMA_ID, description: 'The error shape of every 4xx/5xx answer' },
);

/**
 * Documents the service's routes from their schemas (@fastify/swagger, OpenAPI 3) and serves the
 * document at `GET /openapi.json` (the gateway merges these into the public API at /docs).
 *
 * @fastify/swagger sees only routes declared after it is loaded, so declare the routes inside a
 * plugin registered after this call: `registerOpenApi(app, info); app.register(routes)`.
 */
export function registerOpenApi(app: HttpApp, info: OpenApiInfo): void {
  const { tags, ...rest } = info;
  app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: rest,
      ...(tags ? { tags } : {}),
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
    // Shared schemas keep their $id as their name under components/schemas (not `def-N`).
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
    hideUntagged: false,
    // A route's kill-switch flag (route config `featureFlag`) is shown on its operation, and its
    // 503 answer documents FEATURE_DISABLED (the flag off) beside DEPENDENCY_UNAVAILABLE.
    transform: ({ schema, url, route }) => {
      const flag = route.config?.featureFlag;
      return { schema: flag ? flaggedSchema(schema as Record<string, unknown>, flag) : schema, url };
    },
  });
  app.register(async (scope) => {
    scope.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  });
}

/**
 * The documented schema of a flagged route: `x-feature-flag`, and a 503 that names
 * FEATURE_DISABLED. A copy: the route's own schema (used to serialise answers) is left alone.
 */
function flaggedSchema(schema: Record<string, unknown>, flag: string): Record<string, unknown> {
  const response = (schema.response ?? {}) as Record<string, unknown>;
  return {
    ...schema,
    'x-feature-flag': flag,
    response: {
      ...response,
      503: errorResponse(503, [...(response[503] ? [GENERIC[503]] : []), featureDisabledDoc(flag)]),
    },
  };
}

/** The documented answer of an operation whose kill-switch flag is off. */
export const featureDisabledDoc = (flag: string): ErrorDoc => [
  'FEATURE_DISABLED',
  `the operation is switched off (feature flag ${flag}); retry later`,
];

/** Marks a route as needing `Authorization: Bearer` in the OpenAPI document. */
export const bearerSecurity = [{ bearerAuth: [] as string[] }];

/** A documented error answer: the status's usual code, or [code, description] for a specific one. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 502 | 503 | 504;
type ErrorDoc = readonly [code: string, description: string];

const GENERIC: Record<ErrorStatus, ErrorDoc> = {
  400: ['VALIDATION_FAILED', 'the request does not match its schema (or is malformed)'],
  401: ['UNAUTHORIZED', 'no bearer token, or an invalid or expired one'],
  403: ['FORBIDDEN', 'the caller is signed in but not allowed'],
  404: ['NOT_FOUND', 'no such resource (or not the caller’s)'],
  409: ['CONFLICT', 'conflicts with the current state'],
  413: ['PAYLOAD_TOO_LARGE', 'the body is larger than the limit'],
  415: ['UNSUPPORTED_MEDIA_TYPE', 'the body is not application/json'],
  422: ['UNPROCESSABLE', 'well-formed but cannot be processed'],
  429: ['TOO_MANY_REQUESTS', 'rate limit exceeded; retry after the Retry-After header'],
  500: ['INTERNAL', 'an unexpected fault (logged with the request id)'],
  502: ['BAD_GATEWAY', 'the upstream service is unavailable'],
  503: ['DEPENDENCY_UNAVAILABLE', 'a datastore or service is unavailable; retry after Retry-After'],
  504: ['GATEWAY_TIMEOUT', 'the upstream service did not answer in time'],
};

/** The response entry of an error status: the shared schema by reference, with an example. */
export function errorResponse(
  status: ErrorStatus,
  docs: readonly ErrorDoc[] = [GENERIC[status]],
  /** A route schema refers to the shared schema by id; a finished document by its component path. */
  schema: unknown = Type.Ref(ERROR_SCHEMA_ID),
) {
  const description = docs.map(([code, text]) => `${code}: ${text}`).join('; ');
  const [first] = docs;
  return {
    description,
    content: {
      'application/json': {
        schema,
        example: {
          error: {
            code: first?.[0] ?? GENERIC[status][0],
            message: first?.[1] ?? GENERIC[status][1],
            requestId: '0b7f3a1e-5c1d-4a8e-9f00-3c2d1e0f9a7b',
          },
        },
      },
    },
  };
}

export interface OperationSpec<R extends Record<number, TSchema>> {
  /** The SDK method name: unique across the public API, camelCase. */
  operationId: string;
  summary: string;
  tag: string;
  /** `public`: no token; `bearer`: a signed-in user; `admin`: a signed-in admin. */
  access: 'public' | 'bearer' | 'admin';
  /** Success answers (status → schema). */
  responses: R;
  /** The operation reads a JSON body (so 413 and 415 can answer). */
  body?: boolean;
  /** The operation's own error answers, beyond the ones every operation has. */
  errors?: Partial<Record<ErrorStatus, readonly ErrorDoc[] | true>>;
}

/**
 * The documentation half of a route's schema: operationId, summary, tag, security and every
 * answer (successes and errors, the errors by reference to the one shared error schema). Every
 * operation can answer 400 (bad input), 500 and 503 (a dependency away); `access` adds 401 (and
 * 403 for admin), `body` adds 413 and 415. Spread it into the route's `schema` next to
 * `params`, `querystring` and `body`.
 */
export function operation<R extends Record<number, TSchema>>(spec: OperationSpec<R>) {
  const errors: Partial<Record<ErrorStatus, readonly ErrorDoc[] | true>> = {
    400: true,
    ...(spec.access !== 'public' ? { 401: true } : {}),
    ...(spec.access === 'admin' ? { 403: [['FORBIDDEN', 'requires role admin']] as const } : {}),
    ...(spec.body ? { 413: true, 415: true } : {}),
    500: true,
    503: true,
    ...spec.errors,
  };
  const response: Record<number, unknown> = { ...spec.responses };
  for (const [status, docs] of Object.entries(errors)) {
    const s = Number(status) as ErrorStatus;
    response[s] = errorResponse(s, docs === true ? undefined : docs);
  }
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    tags: [spec.tag],
    security: spec.access === 'public' ? [] : bearerSecurity,
    response: response as R,
  };
}
