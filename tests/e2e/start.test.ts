import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SERVICES = ['api-gateway', 'user-service', 'product-service', 'order-service', 'notification-service'];
// Away from the default 8080-8084, so a developer's running platform does not collide.
const PORT_BASE = 28080;

function npmStart(env: Record<string, string>) {
  const child = spawn('npm', ['start', '--silent'], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so Ctrl-C can be delivered the way a terminal does: to the group.
    detached: true,
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal })),
  );
  return { child, out, exited };
}

test('npm start brings up all five services ready, and Ctrl-C stops them all cleanly', {
  timeout: 120_000,
}, async () => {
  const { child, out, exited } = npmStart({ PORT_BASE: String(PORT_BASE) });
  const deadline = Date.now() + 90_000;
  while (!out.stdout.includes('all five services ready') && Date.now() < deadline) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.match(out.stdout, /all five services ready in [\d.]+ s/, `${out.stdout}\n${out.stderr}`);

  for (const [i, name] of SERVICES.entries()) {
    const base = `http://127.0.0.1:${PORT_BASE + i}`;
    assert.ok(out.stdout.includes(base), `prints the URL of ${name}`);
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200, `${name} ready`);
    const version = (await (await fetch(`${base}/version`)).json()) as { service: string };
    assert.equal(version.service, name);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /app_build_info\{/);
    assert.match(metrics, /http_requests_total\{method="GET",route="\/readyz",status_code="200"\}/);
  }

  process.kill(-(child.pid as number), 'SIGINT'); // what Ctrl-C in a terminal does
  const result = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 20_000))]);
  assert.notEqual(result, 'timeout', 'stopped within 20 s');
  // npm itself re-raises the SIGINT it got (exit by signal); the start script under it exits 0
  // after it has stopped every service, which it announces with "stopped".
  const { code, signal } = result as { code: number | null; signal: string | null };
  assert.ok(code === 0 || signal === 'SIGINT', `exit ${code} / ${signal}; stderr: ${out.stderr}`);
  assert.match(out.stdout, /stopping…\nstopped\n/);
  assert.ok(!/exited unexpectedly/.test(out.stderr), out.stderr);
  for (const [i] of SERVICES.entries()) {
    await assert.rejects(fetch(`http://127.0.0.1:${PORT_BASE + i}/healthz`), 'nothing left listening');
  }
});

test('npm start with a dependency down says which one and how to start it, in one line', {
  timeout: 60_000,
}, async () => {
  const { out, exited } = npmStart({ PORT_BASE: String(PORT_BASE + 10), REDIS_URL: 'redis://127.0.0.1:1' });
  const { code } = await exited;
  assert.equal(code, 1);
  const lines = out.stderr.split('\n').filter((l) => l.includes('not reachable'));
  assert.equal(lines.length, 1, out.stderr);
  assert.match(
    lines[0] ?? '',
    /^Redis is not reachable at redis:\/\/127\.0\.0\.1:1 .*start it with: redis-server /,
  );
});
