import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { Lifecycle } from '../src/lifecycle.js';
import { testApp } from '../src/test-support.js';

/** A promise and its resolve, for the markers below. */
function marker() {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

test('shutdown: /readyz flips to 503 first, the in-flight request completes, then closers run in contract order', async (t) => {
  const { app, health, logger } = testApp();
  const events: string[] = [];
  const slowStarted = marker();
  const slowMayEnd = marker();
  app.get('/slow', { schema: {} }, async () => {
    events.push('slow:start');
    slowStarted.resolve();
    await slowMayEnd.promise;
    events.push('slow:end');
    return { done: true };
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  let exitCode: number | undefined;
  const lifecycle = new Lifecycle({
    logger,
    health,
    drainMs: 200,
    timeoutMs: 5000,
    exit: (c) => (exitCode = c),
  });
  lifecycle
    .on('telemetry', 'otel', () => events.push('close:telemetry'))
    .on('pools', 'postgres', () => events.push('close:pools'))
    .on('consumers', 'queue', () => events.push('close:consumers'))
    .on('server', 'http', async () => {
      events.push('close:server:start');
      const closed = app.close();
      // The server is closing with the request in flight: now let the request finish.
      slowMayEnd.resolve();
      await closed;
      events.push('close:server:end');
    });

  assert.equal((await fetch(`${base}/readyz`)).status, 200);
  const inflight = fetch(`${base}/slow`);
  await slowStarted.promise;
  // The drain delay runs on mocked time: it ends when the test says so, not on the clock.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const done = lifecycle.shutdown('SIGTERM');

  // During the drain the server still answers, but readiness is already failing.
  const ready = await fetch(`${base}/readyz`);
  assert.equal(ready.status, 503);
  assert.equal(((await ready.json()) as { status: string }).status, 'shutting_down');
  events.push('readyz:503');
  assert.ok(!events.includes('close:server:start'), 'nothing closed during the drain');
  t.mock.timers.tick(200);

  const res = await inflight;
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { done: true });
  await done;
  t.mock.timers.reset();
  assert.equal(exitCode, 0);
  assert.deepEqual(events, [
    'slow:start',
    'readyz:503',
    'close:server:start',
    'slow:end',
    'close:server:end',
    'close:consumers',
    'close:pools',
    'close:telemetry',
  ]);
  // A second signal does not start a second shutdown.
  await lifecycle.shutdown('SIGTERM');
  assert.equal(events.filter((e) => e === 'close:pools').length, 1);
});

test('a shutdown that hangs past the timeout exits 1, naming the closer it waited for', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { health, logger, lines } = testApp();
  const exited = marker();
  let exitCode: number | undefined;
  const lifecycle = new Lifecycle({
    logger,
    health,
    drainMs: 0,
    timeoutMs: 100,
    exit: (c) => {
      exitCode = c;
      exited.resolve();
    },
  });
  lifecycle.on('pools', 'stuck', () => new Promise(() => {}));
  void lifecycle.shutdown('SIGTERM');
  t.mock.timers.tick(99);
  assert.equal(exitCode, undefined, 'not before the timeout');
  t.mock.timers.tick(1);
  await exited.promise;
  assert.equal(exitCode, 1);
  const line = lines().find((l) => l.msg === 'shutdown timed out; exiting');
  assert.equal(line?.pending, 'pools/stuck');
});

test('a closer that throws does not stop the others, and the exit code says so', async () => {
  const { health, logger } = testApp();
  const closed: string[] = [];
  let exitCode: number | undefined;
  const lifecycle = new Lifecycle({
    logger,
    health,
    drainMs: 0,
    timeoutMs: 1000,
    exit: (c) => (exitCode = c),
  });
  lifecycle
    .on('consumers', 'bad', () => {
      throw new Error('boom');
    })
    .on('pools', 'db', () => closed.push('db'));
  await lifecycle.shutdown('SIGTERM');
  assert.deepEqual(closed, ['db']);
  assert.equal(exitCode, 1);
});
