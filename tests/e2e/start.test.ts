import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { dropDatabase, withDatabase } from '@mdp/platform/postgres';
import { eventually, TEST_PG_URL, type TempVhost, tempVhost, uniqueName } from '@mdp/platform/testing';
import { loadServices, type ServiceEntry } from '@mdp/stack/services';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * `npm start` on throw-away resources: its own databases (DATABASE_PREFIX), its own RabbitMQ vhost,
 * free ports (PORT_BASE=0): never the machine's real databases or 8080-8084.
 */
let services: ServiceEntry[];
let vhost: TempVhost;
const prefix = `${uniqueName('start')}_`;

before(async () => {
  services = await loadServices();
  vhost = await tempVhost('start');
});
after(async () => {
  for (const s of services ?? [])
    if (s.database) await dropDatabase(withDatabase(TEST_PG_URL, `${prefix}${s.database.name}`));
  await vhost?.drop();
});

function npmStart(env: Record<string, string>, args: string[] = []) {
  const child = spawn('npm', ['start', '--silent', ...(args.length ? ['--', ...args] : [])], {
    cwd: root,
    env: {
      ...process.env,
      PORT_BASE: '0',
      DATABASE_HOST_URL: withDatabase(TEST_PG_URL, ''),
      DATABASE_PREFIX: prefix,
      AMQP_URL: vhost.url,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so Ctrl-C can be delivered the way a terminal does: to the group.
    detached: true,
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  // 'close', not 'exit': npm exits on the SIGINT of Ctrl-C while the start script under it is
  // still stopping (and printing); 'close' waits until every holder of the pipes let go of them.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('close', (code, signal) => r({ code, signal })),
  );
  return { child, out, exited };
}

test('npm start brings up every service ready and the observability engines (Prometheus with the rules, Alertmanager, Jaeger, the collector), and Ctrl-C stops them all cleanly', {
  timeout: 180_000,
}, async () => {
  const { child, out, exited } = npmStart({});
  const ready = new RegExp(`all ${services.length} services ready in [\\d.]+ s`);
  // The marker: the line npm start prints once every /readyz answered 200 (or its exit).
  await new Promise<void>((resolve) => {
    const check = () => (ready.test(out.stdout) || child.exitCode !== null ? resolve() : undefined);
    child.stdout.on('data', check);
    child.on('exit', () => resolve());
    check();
  });
  assert.match(out.stdout, ready, `${out.stdout}\n${out.stderr}`);

  const urls: Record<string, string> = {};
  for (const s of services) {
    const m = new RegExp(`^  ${s.name} +(http://127\\.0\\.0\\.1:\\d+)$`, 'm').exec(out.stdout);
    assert.ok(m?.[1], `prints the URL of ${s.name}`);
    urls[s.name] = m[1];
    assert.notEqual(new URL(m[1]).port, String(s.port), `${s.name} is not on its fixed port`);
    const readyz = await fetch(`${m[1]}/readyz`);
    assert.equal(readyz.status, 200, `${s.name} ready`);
    const version = (await (await fetch(`${m[1]}/version`)).json()) as { service: string };
    assert.equal(version.service, s.name);
    const metrics = await (await fetch(`${m[1]}/metrics`)).text();
    assert.match(metrics, /app_build_info\{/);
    assert.match(metrics, /http_requests_total\{method="GET",route="\/readyz",status_code="200"\}/);
  }

  // The observability engines (all installed by scripts/install-tools.sh), on free ports here.
  const engine = (name: string) => {
    const m = new RegExp(`^  ${name} +(http://127\\.0\\.0\\.1:\\d+)`, 'm').exec(out.stdout);
    assert.ok(m?.[1], `prints the URL of ${name}: ${out.stdout}`);
    return m[1];
  };
  const prometheus = engine('Prometheus');
  const jaeger = engine('Jaeger');
  engine('Alertmanager');
  engine('OTLP/HTTP \\(collector\\)');
  assert.doesNotMatch(out.stdout, /not installed/);
  const query = async (q: string) =>
    (
      (await (
        await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(q)}`, {
          signal: AbortSignal.timeout(5000),
        })
      ).json()) as { data: { result: unknown[] } }
    ).data.result;
  // The shop's metrics: every service scraped (with the PodMonitors' `app`), the rules loaded.
  await eventually(
    async () =>
      (await query('up{namespace="mdp-dev", app=~".+-service|api-gateway"} == 1')).length === services.length,
    60_000,
    500,
  );
  const rules = (await (await fetch(`${prometheus}/api/v1/rules`)).json()) as { data: { groups: unknown[] } };
  assert.ok(rules.data.groups.length > 10, 'the rule groups of monitoring/');
  // The shop's traces: a catalog read through the gateway reaches Jaeger through the collector.
  await fetch(`${urls['api-gateway']}/api/products`);
  await eventually(
    async () => {
      const names =
        ((await (await fetch(`${jaeger}/api/services`)).json()) as { data: string[] | null }).data ?? [];
      return names.includes('api-gateway') && names.includes('product-service');
    },
    60_000,
    500,
  );

  process.kill(-(child.pid as number), 'SIGINT'); // what Ctrl-C in a terminal does
  const result = await exited;
  // npm itself re-raises the SIGINT it got (exit by signal); the start script under it exits 0
  // after it has stopped every service, which it announces with "stopped".
  const { code, signal } = result;
  assert.ok(code === 0 || signal === 'SIGINT', `exit ${code} / ${signal}; stderr: ${out.stderr}`);
  assert.match(out.stdout, /stopping…\nstopped\n/);
  assert.ok(!/exited unexpectedly/.test(out.stderr), out.stderr);
  for (const url of [...Object.values(urls), prometheus, jaeger])
    await assert.rejects(fetch(`${url}/-/healthy`), 'nothing left listening');
});

test('npm start -- --no-observability starts the services only', { timeout: 120_000 }, async () => {
  const { child, out, exited } = npmStart({}, ['--no-observability']);
  const ready = new RegExp(`all ${services.length} services ready in [\\d.]+ s`);
  await new Promise<void>((resolve) => {
    const check = () => (ready.test(out.stdout) || child.exitCode !== null ? resolve() : undefined);
    child.stdout.on('data', check);
    child.on('exit', () => resolve());
    check();
  });
  assert.match(out.stdout, ready, `${out.stdout}\n${out.stderr}`);
  assert.doesNotMatch(out.stdout, /Prometheus|Jaeger|Alertmanager|starting observability/);
  process.kill(-(child.pid as number), 'SIGINT');
  await exited;
  assert.match(out.stdout, /stopping…\nstopped\n/);
});

test('npm start with a dependency down says which one and how to start it, in one line', {
  timeout: 60_000,
}, async () => {
  const { out, exited } = npmStart({ REDIS_URL: 'redis://127.0.0.1:1' });
  const { code } = await exited;
  assert.equal(code, 1);
  const lines = out.stderr.split('\n').filter((l) => l.includes('not reachable'));
  assert.equal(lines.length, 1, out.stderr);
  assert.match(
    lines[0] ?? '',
    /^Redis is not reachable at redis:\/\/127\.0\.0\.1:1 .*start it with: redis-server /,
  );
});
