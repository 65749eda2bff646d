/**
 * The public API document as a referee in the e2e suite: an openapi-fetch middleware that checks
 * every response the typed client receives against the document (openapi-backend's validator,
 * Ajv underneath) — the status must be one the operation documents, and the body must match that
 * status's schema. A mismatch throws, so the calling test fails at the call.
 */
import fs from 'node:fs';
import type { Middleware } from '@mdp/api-client';
import { OpenAPIBackend } from 'openapi-backend';

export interface OpenApiDoc {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
  [k: string]: unknown;
}
export interface Operation {
  operationId: string;
  security?: unknown[];
  parameters?: { name: string; in: string; required?: boolean; schema?: Record<string, unknown> }[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, unknown>;
}

export const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** The checked-in document (packages/api-client/openapi.json). */
export function checkedInDocument(): OpenApiDoc {
  const file = new URL(import.meta.resolve('@mdp/api-client/openapi.json'));
  return JSON.parse(fs.readFileSync(file, 'utf8')) as OpenApiDoc;
}

export function operations(doc: OpenApiDoc) {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ path, method, op: item[method] as Operation })),
  );
}

export interface ResponseValidator {
  middleware: Middleware;
  /** Validates one answer of an operation: the problem, or undefined when it conforms. */
  check(op: Operation, status: number, body: unknown): string | undefined;
  /** How many responses were checked, per operationId and status. */
  seen: Map<string, Set<number>>;
}

export async function responseValidator(doc: OpenApiDoc): Promise<ResponseValidator> {
  const backend = new OpenAPIBackend({ definition: structuredClone(doc) as never, quick: false });
  await backend.init();
  const seen = new Map<string, Set<number>>();

  function check(op: Operation, status: number, body: unknown): string | undefined {
    if (!op.responses[String(status)]) return `${op.operationId} answered ${status}, not documented`;
    const result = backend.validateResponse(body, op.operationId, status);
    if (!result.valid) return `${op.operationId} ${status}: ${JSON.stringify(result.errors)}`;
    const statuses = seen.get(op.operationId) ?? new Set<number>();
    seen.set(op.operationId, statuses.add(status));
    return undefined;
  }

  const middleware: Middleware = {
    async onResponse({ request, response, schemaPath }) {
      const op = doc.paths[schemaPath]?.[request.method.toLowerCase()];
      if (!op) throw new Error(`response validation: ${request.method} ${schemaPath} is not in the document`);
      const text = await response.clone().text();
      let body: unknown = null;
      if (text) {
        try {
          body = JSON.parse(text);
        } catch {
          throw new Error(
            `response validation: ${op.operationId} ${response.status} is not JSON: ${text.slice(0, 200)}`,
          );
        }
      }
      const problem = check(op, response.status, body);
      if (problem) throw new Error(`response validation: ${problem}; body ${text.slice(0, 500)}`);
      return undefined;
    },
  };
  return { middleware, check, seen };
}
