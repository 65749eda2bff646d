import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

test('with the telemetry preload, the upstream gets one traceparent continuing the client trace', async () => {
  const child = spawn(
    process.execPath,
    [
      '--conditions=mdp-source',
      '--import',
      '@mdp/platform/telemetry',
      '--import',
      'tsx',
      'services/api-gateway/test/fixtures/traced-gateway.ts',
    ],
    {
      cwd: repoRoot,
      env: {
        ...process.env,
        OTEL_SERVICE_NAME: 'api-gateway',
        LOG_LEVEL: 'silent',
        OTEL_EXPORTER_OTLP_ENDPOINT: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise((r) => child.on('exit', r));
  assert.equal(code, 0, err);
  const line = out.split('\n').find((l) => l.startsWith('{'));
  assert.ok(line, `no result line: ${out} ${err}`);
  const r = JSON.parse(line) as {
    status: number;
    clientTraceparent: string;
    upstreamTraceparent: string;
    traceparentHeaders: number;
  };
  assert.equal(r.status, 200);
  assert.equal(r.traceparentHeaders, 1, 'exactly one traceparent header reaches the upstream');
  const [, clientTrace, clientSpan] = r.clientTraceparent.split('-');
  const parts = r.upstreamTraceparent.split('-');
  assert.match(r.upstreamTraceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  assert.equal(parts[1], clientTrace, 'same trace as the client');
  assert.notEqual(parts[2], clientSpan, 'parent is the gateway’s own span, not the client’s');
});
