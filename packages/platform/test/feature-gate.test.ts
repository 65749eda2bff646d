/**
 * The kill switch on every operation: a route's `config.featureFlag` is read per request from the
 * flagd file provider; turned off in the file, the running app answers 503 FEATURE_DISABLED (the
 * contract's error shape) with a log line, and the OpenAPI operation shows `x-feature-flag`.
 * Also prints the time from the file change to the first FEATURE_DISABLED answer (no assertion on it).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { initFlags } from '../src/flags.js';
import { Health } from '../src/health.js';
import { createHttpApp } from '../src/http.js';
import { Metrics } from '../src/metrics.js';
import { memoryLogger } from '../src/test-support.js';
import { eventually, uniqueName } from '../src/testing.js';

const flagFile = (variant: 'on' | 'off') =>
  JSON.stringify({
    $schema: 'https://flagd.dev/schema/v0/flags.json',
    flags: {
      'demo.op': { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: variant },
    },
  });

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mdp-gate-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a route with config.featureFlag answers 503 FEATURE_DISABLED once its flag is off in the file (hot reload)', async () => {
  const file = path.join(dir, 'flags.json');
  await writeFile(file, flagFile('on'));
  const { logger, lines } = memoryLogger();
  const metrics = new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false });
  const flags = await initFlags(
    { FLAGS_PROVIDER: 'file', FLAGS_FILE: file, FLAGS_POLL_MS: 100 },
    { logger, metrics, domain: uniqueName('gate') },
  );
  const app = createHttpApp({
    logger,
    metrics,
    health: new Health(1000),
    flags,
    info: { service: 'gate-test', version: '1', commit: 'c' },
    openapi: { title: 'gate-test' },
    routes: (scope) => {
      scope.get(
        '/things',
        {
          config: { featureFlag: 'demo.op' },
          schema: { response: { 200: Type.Object({ ok: Type.Boolean() }) } },
        },
        async () => ({ ok: true }),
      );
      scope.get('/unflagged', async () => ({ ok: true }));
    },
  });
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    assert.equal((await fetch(`${base}/things`)).status, 200);

    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    assert.equal(doc.paths['/things']?.get?.['x-feature-flag'], 'demo.op');
    assert.equal(doc.paths['/unflagged']?.get?.['x-feature-flag'], undefined);
    // The flagged operation documents its 503 FEATURE_DISABLED answer in the error shape.
    const flaggedResponses = (doc.paths['/things']?.get?.responses ?? {}) as Record<string, unknown>;
    const disabledDoc = flaggedResponses['503'] as {
      description: string;
      content: Record<string, { schema: { $ref?: string } }>;
    };
    assert.match(disabledDoc.description, /^FEATURE_DISABLED: .*demo\.op/);
    assert.equal(disabledDoc.content['application/json']?.schema.$ref, '#/components/schemas/ErrorResponse');
    assert.equal(
      (doc.paths['/unflagged']?.get?.responses as Record<string, unknown> | undefined)?.['503'],
      undefined,
    );

    // Switch it off the way a ConfigMap edit lands: a new file renamed over the old one.
    await writeFile(`${file}.tmp`, flagFile('off'));
    const changedAt = performance.now();
    await rename(`${file}.tmp`, file);
    const res = await eventually(async () => {
      const r = await fetch(`${base}/things`);
      return r.status === 503 ? r : undefined;
    }, 10_000);
    const ms = performance.now() - changedAt;
    process.stdout.write(`flag flip: file change → FEATURE_DISABLED in ${ms.toFixed(0)} ms (poll 100 ms)\n`);
    const body = (await res.json()) as { error: { code: string; message: string; requestId: string } };
    assert.equal(body.error.code, 'FEATURE_DISABLED');
    assert.match(body.error.message, /demo\.op/);
    assert.equal(body.error.requestId, res.headers.get('x-request-id'));
    assert.equal((await fetch(`${base}/unflagged`)).status, 200, 'other operations keep working');

    const disabled = lines().find((l) => l.msg === 'operation disabled by feature flag');
    assert.equal(disabled?.featureFlag, 'demo.op');
    assert.equal(disabled?.level, 'warn');
    const changed = lines().find((l) => l.msg === 'feature flag changed');
    assert.deepEqual(
      [changed?.flag, changed?.oldDefaultVariant, changed?.newDefaultVariant],
      ['demo.op', 'on', 'off'],
    );
    const text = await metrics.registry.getSingleMetricAsString('feature_flag_evaluations_total');
    assert.match(text, /flag="demo.op",variant="off",reason="STATIC"} [1-9]/);

    // And back on: no restart needed.
    await writeFile(file, flagFile('on'));
    await eventually(async () => (await fetch(`${base}/things`)).status === 200, 10_000);
  } finally {
    await app.close();
    await flags.close();
  }
});
