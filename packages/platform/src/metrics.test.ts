import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { HTTP_DURATION_BUCKETS, Metrics } from './metrics.js';
import { testApp } from './test-support.js';

test('HTTP metrics use the route pattern, never the raw URL', async () => {
  const { app } = testApp();
  app.get('/products/:id', { schema: { params: Type.Object({ id: Type.String() }) } }, async (r) => ({
    id: r.params.id,
  }));
  for (const id of ['a', 'b', 'c']) await app.inject({ url: `/products/${id}?x=${id}` });
  await app.inject({ url: '/random/path/1' });
  await app.inject({ url: '/random/path/2' });
  const res = await app.inject({ url: '/metrics' });
  assert.match(String(res.headers['content-type']), /^text\/plain/);
  const text = res.body;
  assert.match(text, /http_requests_total\{method="GET",route="\/products\/:id",status_code="200"\} 3/);
  assert.match(text, /http_requests_total\{method="GET",route="unmatched",status_code="404"\} 2/);
  assert.ok(!text.includes('/products/a'), 'no raw URL');
  assert.ok(!text.includes('/random/path'), 'no raw URL for unmatched routes');
  assert.match(text, /http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/products\/:id"/);
  assert.match(text, /app_build_info\{version="1.2.3",commit="abc1234"\} 1/);
});

test('buckets are the contract buckets and default Node metrics are exported', async () => {
  assert.deepEqual(HTTP_DURATION_BUCKETS, [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]);
  const m = new Metrics({ version: 'v', commit: 'c' });
  const text = await m.registry.metrics();
  assert.match(text, /nodejs_eventloop_lag_seconds/);
  assert.match(text, /process_resident_memory_bytes/);
  assert.match(text, /nodejs_heap_size_used_bytes/);
});

test('contract metrics are created once, on first use', async () => {
  const m = new Metrics({ version: 'v', commit: 'c' }, { defaultMetrics: false });
  assert.ok(!(await m.registry.metrics()).includes('cache_requests_total'));
  m.cacheRequests().inc({ cache: 'product', result: 'hit' });
  m.cacheRequests().inc({ cache: 'product', result: 'hit' });
  assert.match(await m.registry.metrics(), /cache_requests_total\{cache="product",result="hit"\} 2/);
});
