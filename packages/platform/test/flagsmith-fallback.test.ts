/**
 * Production's provider: Flagsmith with local evaluation (server-side key; the SDK polls the
 * environment document from the API and evaluates in-process), the flagd file (the mdp-flags
 * ConfigMap) as fallback. The API here is a local HTTP server answering the Flagsmith API's
 * environment-document endpoint with an environment document (no Flagsmith server can run on
 * this machine); the SDK, its local evaluation engine and the OpenFeature provider are the real ones.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
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

const KEY = 'ser.test-environment-key';
// This suite's port (the helper's range 48000-48999), free until the "API" starts on it.
const PORT = 48_101;

const flagdFile = JSON.stringify({
  flags: {
    'demo.switch': { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' },
    'demo.limit': { state: 'ENABLED', variants: { low: 5, high: 50 }, defaultVariant: 'low' },
    'demo.fileonly': { state: 'ENABLED', variants: { nine: 9 }, defaultVariant: 'nine' },
  },
});

let dir: string;
let document: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mdp-flagsmith-'));
  document = await readFile(new URL('./fixtures/flagsmith-environment.json', import.meta.url), 'utf8');
});
after(async () => rm(dir, { recursive: true, force: true }));

/** The Flagsmith API's GET /api/v1/environment-document/ (X-Environment-Key: a server-side key). */
function fakeFlagsmithApi(requests: string[], body: () => string = () => document): Server {
  return createServer((req, res) => {
    requests.push(`${req.method} ${req.url} ${req.headers['x-environment-key'] ?? ''}`);
    if (req.method === 'GET' && req.url === '/api/v1/environment-document/') {
      if (req.headers['x-environment-key'] !== KEY) {
        res.writeHead(403, { 'content-type': 'application/json' }).end('{"detail":"Invalid key"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(body());
      return;
    }
    res.writeHead(404).end();
  });
}

const listen = (s: Server) =>
  new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(PORT, '127.0.0.1', () => resolve());
  });
const close = (s: Server) =>
  new Promise<void>((resolve) => {
    s.close(() => resolve());
    s.closeAllConnections();
  });

test('Flagsmith local evaluation with the flag file as fallback: unreachable at start, then the API, then the last document kept', async () => {
  const file = path.join(dir, 'flags.json');
  await writeFile(file, flagdFile);
  const { logger, lines } = memoryLogger();
  const metrics = new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false });
  const requests: string[] = [];
  const api = fakeFlagsmithApi(requests);
  const flags = await initFlags(
    {
      FLAGS_PROVIDER: 'flagsmith',
      FLAGS_FILE: file,
      FLAGS_POLL_MS: 100,
      FLAGSMITH_ENVIRONMENT_KEY: KEY,
      FLAGSMITH_API_URL: `http://127.0.0.1:${PORT}/api/v1/`,
      FLAGSMITH_LOCAL_EVALUATION: true,
      FLAGSMITH_REFRESH_SECONDS: 1,
    },
    { logger, metrics, domain: uniqueName('flagsmith') },
  );
  const user = { targetingKey: 'user-1' };
  try {
    // 1. The API is down at start: the service starts anyway and the file answers.
    assert.ok(lines().some((l) => String(l.msg).startsWith('Flagsmith unreachable')));
    assert.equal(await flags.boolean('demo.switch', false, user), true);
    assert.equal(await flags.number('demo.limit', 1, user), 5);
    const ready = lines().find((l) => l.msg === 'feature flags ready');
    assert.equal(ready?.providerName, 'flagsmith-local+flagd-file');

    // 2. The API comes up: the next poll brings the document and Flagsmith answers, in-process.
    await listen(api);
    await eventually(async () => (await flags.boolean('demo.switch', true, user)) === false, 10_000);
    assert.equal(await flags.number('demo.limit', 1, user), 42);
    assert.equal(
      await flags.boolean('demo.switch', true),
      false,
      'environment flags as well as identity flags',
    );
    // A flag Flagsmith does not have: the file's value, not the code default.
    assert.equal(await flags.number('demo.fileonly', 1, user), 9);
    assert.ok(lines().some((l) => l.msg === 'Flagsmith environment document received'));
    // Local evaluation: only document fetches with the server-side key, no per-evaluation call.
    assert.ok(requests.length > 0);
    for (const r of requests) assert.equal(r, `GET /api/v1/environment-document/ ${KEY}`);

    // 3. The API goes away again: after a failed refresh the last document still answers.
    await close(api);
    await eventually(
      () =>
        lines().some((l) => l.msg === 'Flagsmith environment document refresh failed; keeping the last one'),
      10_000,
    );
    assert.equal(await flags.boolean('demo.switch', true, user), false);
    assert.equal(await flags.number('demo.limit', 1, user), 42);
  } finally {
    await flags.close();
    if (api.listening) await close(api);
  }
});

test('with FLAGSMITH_OFFLINE_FILE and a key, that environment document is the fallback, and the API wins once it answers', async () => {
  const { logger } = memoryLogger();
  const metrics = new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false });
  const api = fakeFlagsmithApi([], () =>
    document.replace('"feature_state_value": 42', '"feature_state_value": 43'),
  );
  const flags = await initFlags(
    {
      FLAGS_PROVIDER: 'flagsmith',
      FLAGSMITH_ENVIRONMENT_KEY: KEY,
      FLAGSMITH_API_URL: `http://127.0.0.1:${PORT}/api/v1/`,
      FLAGSMITH_LOCAL_EVALUATION: true,
      FLAGSMITH_REFRESH_SECONDS: 1,
      FLAGSMITH_OFFLINE_FILE: new URL('./fixtures/flagsmith-environment.json', import.meta.url).pathname,
    },
    { logger, metrics, domain: uniqueName('flagsmith') },
  );
  try {
    // Nothing listens: the document on disk answers.
    assert.equal(await flags.number('demo.limit', 1, { targetingKey: 'u' }), 42);
    assert.equal(await flags.number('demo.missing', 7, { targetingKey: 'u' }), 7);
    // The API's document replaces it (flagsmith-nodejs alone would keep evaluating the file).
    await listen(api);
    await eventually(async () => (await flags.number('demo.limit', 1, { targetingKey: 'u' })) === 43, 10_000);
  } finally {
    await flags.close();
    if (api.listening) await close(api);
  }
});

test('FLAGS_PROVIDER=flagsmith before the key exists: the flag file alone answers, with a warning', async () => {
  const file = path.join(dir, 'nokey.json');
  await writeFile(file, flagdFile);
  const { logger, lines } = memoryLogger();
  const metrics = new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false });
  const flags = await initFlags(
    { FLAGS_PROVIDER: 'flagsmith', FLAGS_FILE: file, FLAGSMITH_LOCAL_EVALUATION: true },
    { logger, metrics, domain: uniqueName('flagsmith') },
  );
  try {
    assert.equal(await flags.number('demo.limit', 1, { targetingKey: 'u' }), 5);
    const warn = lines().find((l) => String(l.msg).includes('without FLAGSMITH_ENVIRONMENT_KEY'));
    assert.equal(warn?.level, 'warn');
  } finally {
    await flags.close();
  }
});

test('a kill switch turned off in Flagsmith: the running app answers FEATURE_DISABLED after the next poll (time printed)', async () => {
  const file = path.join(dir, 'gate.json');
  await writeFile(file, flagdFile);
  const { logger } = memoryLogger();
  const metrics = new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false });
  let enabled = true;
  // demo.switch's enabled state in the document the API serves.
  const body = () => {
    const doc = JSON.parse(document) as { feature_states: { feature: { name: string }; enabled: boolean }[] };
    for (const fs of doc.feature_states) if (fs.feature.name === 'demo.switch') fs.enabled = enabled;
    return JSON.stringify(doc);
  };
  const api = fakeFlagsmithApi([], body);
  await listen(api);
  const flags = await initFlags(
    {
      FLAGS_PROVIDER: 'flagsmith',
      FLAGS_FILE: file,
      FLAGSMITH_ENVIRONMENT_KEY: KEY,
      FLAGSMITH_API_URL: `http://127.0.0.1:${PORT}/api/v1/`,
      FLAGSMITH_LOCAL_EVALUATION: true,
      FLAGSMITH_REFRESH_SECONDS: 1,
    },
    { logger, metrics, domain: uniqueName('flagsmith') },
  );
  const app = createHttpApp({
    logger,
    metrics,
    health: new Health(1000),
    flags,
    info: { service: 'flagsmith-gate-test', version: '1', commit: 'c' },
    openapi: { title: 'flagsmith-gate-test' },
    routes: (scope) => {
      scope.get(
        '/things',
        {
          config: { featureFlag: 'demo.switch' },
          schema: { response: { 200: Type.Object({ ok: Type.Boolean() }) } },
        },
        async () => ({ ok: true }),
      );
    },
  });
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    assert.equal((await fetch(`${base}/things`)).status, 200);
    enabled = false;
    const changedAt = performance.now();
    const res = await eventually(async () => {
      const r = await fetch(`${base}/things`);
      return r.status === 503 ? r : undefined;
    }, 10_000);
    const ms = performance.now() - changedAt;
    process.stdout.write(
      `flag flip (Flagsmith): document change → FEATURE_DISABLED in ${ms.toFixed(0)} ms (refresh 1 s)\n`,
    );
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'FEATURE_DISABLED');
  } finally {
    await app.close();
    await flags.close();
    await close(api);
  }
});
