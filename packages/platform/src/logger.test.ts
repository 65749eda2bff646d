import assert from 'node:assert/strict';
import { test } from 'node:test';
import { context, ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { memoryLogger, testApp } from './test-support.js';

test('secrets are redacted from log lines', () => {
  const { logger, lines } = memoryLogger();
  logger.info(
    {
      password: 'hunter2',
      body: { password: 'p', refreshToken: 'r', accessToken: 'a', email: 'x@y.z' },
      req: { headers: { authorization: 'Bearer abc', cookie: 'sid=1', host: 'h' } },
    },
    'login',
  );
  const text = JSON.stringify(lines());
  for (const secret of ['hunter2', '"p"', 'Bearer abc', 'sid=1', '"r"', '"a"'])
    assert.ok(!text.includes(secret), secret);
  assert.ok(text.includes('x@y.z'), 'non-secret fields stay');
  assert.ok(text.includes('[Redacted]'));
});

test('lines carry trace_id and span_id while a span is active', () => {
  const cm = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(cm);
  try {
    const { logger, lines } = memoryLogger();
    const ctx = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
    });
    context.with(ctx, () => logger.info('inside'));
    logger.info('outside');
    const [inside, outside] = lines();
    assert.equal(inside?.trace_id, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(inside?.span_id, 'b7ad6b7169203331');
    assert.equal(outside?.trace_id, undefined);
  } finally {
    context.disable();
  }
});

test('every request log line carries the request id', async () => {
  const { app, lines } = testApp();
  app.get('/hello', { schema: {} }, async (request) => {
    request.log.info('handling');
    return { ok: true };
  });
  await app.inject({ url: '/hello', headers: { 'x-request-id': 'req-42' } });
  const reqLines = lines().filter((l) => l.msg === 'handling' || l.msg === 'request');
  assert.equal(reqLines.length, 2);
  for (const l of reqLines) assert.equal(l.requestId, 'req-42');
  await app.close();
});
