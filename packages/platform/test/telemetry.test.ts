import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempVhost } from '../src/testing.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: string } }[];
}
interface Received {
  service: string;
  spans: OtlpSpan[];
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
let server: Server;
let endpoint: string;
const batches: Received[] = [];

before(async () => {
  // A minimal OTLP/HTTP (JSON) receiver standing in for Jaeger / the collector.
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const body = JSON.parse(Buffer.concat(chunks).toString());
        for (const rs of body.resourceSpans ?? []) {
          const service = rs.resource.attributes.find((a: { key: string }) => a.key === 'service.name')?.value
            .stringValue;
          batches.push({ service, spans: rs.scopeSpans.flatMap((s: { spans: OtlpSpan[] }) => s.spans) });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

function runFixture(env: Record<string, string>, fixture = 'traced-app.ts') {
  const child = spawn(
    process.execPath,
    [
      '--conditions=mdp-source',
      '--import',
      '@mdp/platform/telemetry',
      '--import',
      'tsx',
      `packages/platform/test/fixtures/${fixture}`,
    ],
    { cwd: repoRoot, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise<{ code: number | null; stderr: string; logs: Record<string, unknown>[] }>((resolve) =>
    child.on('exit', (code) =>
      resolve({
        code,
        stderr,
        logs: stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l)),
      }),
    ),
  );
}

test('without an endpoint spans are not recorded, but context still propagates and logs carry trace ids', async () => {
  const { code, stderr, logs } = await runFixture({ OTEL_SERVICE_NAME: 'traced-app-quiet' });
  assert.equal(code, 0, stderr);
  const line = logs.find((l) => l.msg === 'product read');
  const traceparent = String(line?.traceparent ?? '');
  assert.match(
    traceparent,
    /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/,
    'the outgoing call carried a traceparent',
  );
  assert.equal(line?.trace_id, traceparent.split('-')[1], 'the server joined the caller trace');
});

test('the preload produces route spans, exports them over OTLP/HTTP and stamps log lines with the trace id', async () => {
  const child = spawn(
    process.execPath,
    [
      '--conditions=mdp-source',
      '--import',
      '@mdp/platform/telemetry',
      '--import',
      'tsx',
      'packages/platform/test/fixtures/traced-app.ts',
    ],
    {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH,
        OTEL_SERVICE_NAME: 'traced-app',
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  assert.equal(code, 0, stderr);

  const logs = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
  assert.ok(logs.find((l) => l.msg === 'done')?.preload, 'preload ran before the app');

  const spans = batches.filter((b) => b.service === 'traced-app').flatMap((b) => b.spans);
  const attr = (s: OtlpSpan, k: string) => s.attributes.find((a) => a.key === k)?.value.stringValue;
  const route = spans.find((s) => attr(s, 'http.route') === '/p/:id' && s.kind === 2 /* SERVER */);
  assert.ok(route, `a server span for GET /p/:id: ${spans.map((s) => s.name).join(', ')}`);
  assert.ok(
    spans.some((s) => s.name.includes('/p/:id') && s.traceId === route.traceId),
    'a Fastify span named after the route pattern',
  );
  assert.ok(
    !spans.some((s) => attr(s, 'http.route') === '/healthz' || s.name.includes('/healthz')),
    'probes not traced',
  );
  const client = spans.find((s) => s.kind === 3 /* CLIENT */);
  assert.ok(client, 'the outgoing fetch has a client span');
  assert.equal(route.traceId, client.traceId, 'client and server spans share the trace (context propagated)');

  const line = logs.find((l) => l.msg === 'product read');
  assert.equal(line?.trace_id, route.traceId, 'log line carries the trace id');
  assert.match(String(line?.span_id), /^[0-9a-f]{16}$/);
});

test('an event published while the channel is still opening keeps its own trace (amqplib instrumented)', async () => {
  const vhost = await tempVhost('traced');
  try {
    const { code, stderr, logs } = await runFixture(
      { OTEL_SERVICE_NAME: 'traced-publisher', AMQP_URL: vhost.url },
      'traced-publisher.ts',
    );
    assert.equal(code, 0, stderr);
    assert.equal(logs.length, 3, stderr);
    for (const { expected, traceparent } of logs)
      assert.equal(
        String(traceparent).split('-')[1],
        expected,
        `message of trace ${expected}: ${traceparent}`,
      );
  } finally {
    await vhost.drop();
  }
});
