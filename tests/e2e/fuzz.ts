/**
 * Malformed input to every public operation of the OpenAPI document, generated with fast-check
 * (a fixed seed and a fixed number of cases per operation, so a run is repeatable): garbage path
 * parameters, query strings (garbage cursors and limits included), bodies (JSON of any shape,
 * schema-shaped objects with values of any type, non-JSON, too large), content types and
 * Authorization headers. Every answer must be below 500, and be a status the operation documents
 * with a body its schema accepts (for a 4xx, the shared error shape).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { type OpenApiDoc, type Operation, operations, type ResponseValidator } from './contract.js';

/** A copy of the shipped flag file with the gateway's rate limit on its `relaxed` variant. */
export async function relaxedRateLimitFlags() {
  const source = new URL('../../config/flags/flags.json', import.meta.url);
  const flags = JSON.parse(await fs.readFile(source, 'utf8'));
  flags.flags['gateway.rate-limit-per-minute'].defaultVariant = 'relaxed';
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mdp-e2e-flags-'));
  const file = path.join(dir, 'flags.json');
  await fs.writeFile(file, JSON.stringify(flags));
  return { file, remove: () => fs.rm(dir, { recursive: true, force: true }) };
}

const wellFormed = (s: string) => Buffer.from(s, 'utf8').toString('utf8');
const encode = (s: string) => encodeURIComponent(wellFormed(s));

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '0', '-1', '1e309', 'null', 'true', '[]', '{}', '..', 'a'.repeat(300)),
  fc.uuid(),
);
/** A path segment: encoded text, or raw percent-sequences that are not valid escapes. */
const segment = fc.oneof(
  // Never empty: `/api/orders/` is another operation (the list), not a malformed read.
  { weight: 4, arbitrary: text.map(encode).filter((s) => s.length > 0) },
  { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%00', '%C0%AF', '%2F', '%2e%2e') },
);
const queryValue = fc.oneof(
  text,
  fc.integer().map(String),
  fc.double().map(String),
  fc.base64String({ maxLength: 60 }),
);
const headerValue = fc.stringMatching(/^[\x21-\x7e]{0,300}$/);

/** Values of any JSON type, for a schema-shaped body. */
const anyJson = fc.jsonValue({ maxDepth: 2 });

function bodyArbitrary(schema: Record<string, unknown> | undefined) {
  const props = Object.keys((schema?.properties as Record<string, unknown> | undefined) ?? {});
  const shaped = props.length
    ? fc
        .dictionary(fc.oneof(fc.constantFrom(...props), fc.string({ maxLength: 8 })), anyJson, {
          maxKeys: props.length + 1,
        })
        .map((o) => JSON.stringify(o))
    : fc.constant('{}');
  return fc.oneof(
    { weight: 3, arbitrary: shaped },
    { weight: 2, arbitrary: anyJson.map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('', '{', '{"a":', 'null', '[', `{"x":"${'y'.repeat(1_100_000)}"}`),
    },
  );
}

interface Case {
  params: string[];
  query: [string, string][];
  body: string | undefined;
  contentType: string | undefined;
  auth: 'none' | 'valid' | 'garbage' | 'malformed';
  idempotencyKey: string | undefined;
}

function caseArbitrary(pathTemplate: string, method: string, op: Operation): fc.Arbitrary<Case> {
  const paramCount = (pathTemplate.match(/\{[^}]+\}/g) ?? []).length;
  const queryNames = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
  const name = queryNames.length
    ? fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...queryNames) },
        { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
      )
    : fc.string({ maxLength: 8 });
  const hasBody = method !== 'get';
  return fc.record({
    params: fc.array(segment, { minLength: paramCount, maxLength: paramCount }),
    query: fc.array(fc.tuple(name, queryValue), { maxLength: 4 }),
    body: hasBody
      ? fc.option(bodyArbitrary(op.requestBody?.content['application/json']?.schema), {
          nil: undefined,
          freq: 5,
        })
      : fc.constant(undefined),
    contentType: fc.constantFrom(
      'application/json',
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/x-www-form-urlencoded',
      undefined,
    ),
    auth: fc.constantFrom('none', 'valid', 'valid', 'garbage', 'malformed'),
    idempotencyKey: fc.option(headerValue, { nil: undefined, freq: 2 }),
  });
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const UNSIGNED_TOKEN = `${b64({ alg: 'none' })}.${b64({ sub: 'nobody', role: 'admin' })}.`;

export interface FuzzReport {
  cases: number;
  failures: string[];
  statuses: Record<string, number>;
}

export async function fuzzOperations(opts: {
  gateway: string;
  doc: OpenApiDoc;
  validator: ResponseValidator;
  /** A customer's access token, for the cases that send a valid one. */
  token: string;
  casesPerOperation: number;
  seed?: number;
}): Promise<FuzzReport> {
  const failures: string[] = [];
  const statuses: Record<string, number> = {};
  let cases = 0;
  for (const { path: template, method, op } of operations(opts.doc)) {
    const samples = fc.sample(caseArbitrary(template, method, op), {
      numRuns: opts.casesPerOperation,
      seed: opts.seed ?? 20261206,
    });
    for (const c of samples) {
      cases++;
      let i = 0;
      const urlPath = template.replace(/\{[^}]+\}/g, () => c.params[i++] ?? 'x');
      const query = c.query.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&');
      const url = `${opts.gateway}${urlPath}${query ? `?${query}` : ''}`;
      const headers: Record<string, string> = {};
      if (c.contentType && c.body !== undefined) headers['content-type'] = c.contentType;
      if (c.auth === 'valid') headers.authorization = `Bearer ${opts.token}`;
      // An unsigned token (alg none) and a scheme the API does not take, made here from plain text.
      if (c.auth === 'garbage') headers.authorization = `Bearer ${UNSIGNED_TOKEN}`;
      if (c.auth === 'malformed')
        headers.authorization = `Basic ${Buffer.from('user:wrong').toString('base64')}`;
      if (c.idempotencyKey !== undefined && op.operationId === 'placeOrder')
        headers['idempotency-key'] = c.idempotencyKey;
      const label = `${op.operationId} ${method.toUpperCase()} ${url.slice(opts.gateway.length, 200)} body=${JSON.stringify(c.body?.slice(0, 80))} auth=${c.auth} ct=${c.contentType}`;
      try {
        const res = await fetch(url, {
          method: method.toUpperCase(),
          headers,
          ...(c.body !== undefined ? { body: c.body } : {}),
          signal: AbortSignal.timeout(15_000),
        });
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        const raw = await res.text();
        let body: unknown;
        try {
          body = raw ? JSON.parse(raw) : null;
        } catch {
          failures.push(`${label}: ${res.status} with a body that is not JSON: ${raw.slice(0, 120)}`);
          continue;
        }
        if (res.status >= 500) {
          failures.push(`${label}: ${res.status} ${raw.slice(0, 200)}`);
          continue;
        }
        const problem = opts.validator.check(op, res.status, body);
        if (problem) failures.push(`${label}: ${problem} ${raw.slice(0, 200)}`);
      } catch (err) {
        failures.push(`${label}: request failed: ${(err as Error).message}`);
      }
    }
  }
  return { cases, failures, statuses };
}
