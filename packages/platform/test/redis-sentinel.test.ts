/**
 * The Sentinel client against a real Sentinel (redis-server --sentinel, from Debian) that
 * monitors the machine's Redis under a master name of its own.
 *
 * ioredis' FailoverDetector answers +switch-master by calling its connector's disconnect().
 * When that lands while the client is reconnecting (the primary was just killed, the client is
 * asking the Sentinels where it went), the connector's connect() rejects with "Connection is
 * closed." and ioredis ends the client for good: every command after fails. The CI data-tier
 * drill met this once (60 s of 503s after a failover that Sentinel had completed).
 * createRedis reconnects such a client; this reproduces the race through the same call.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { createRedis, RECONNECT_SCHEDULED } from '../src/redis.js';
import { eventually, freePort } from '../src/testing.js';

describe('Redis through Sentinel: the client survives a failover signal during its reconnect', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mdp-sentinel-'));
  const masterName = `mdp-test-${randomBytes(4).toString('hex')}`;
  let port = 0;
  let sentinel: ReturnType<typeof spawn> | undefined;
  const clients: Redis[] = [];

  before(async () => {
    port = await freePort();
    const conf = path.join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${masterName} 127.0.0.1 6379 1`,
        `sentinel down-after-milliseconds ${masterName} 60000`,
        '',
      ].join('\n'),
    );
    sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    // Ready when it names the master it monitors.
    await eventually(async () => {
      const probe = createRedis(`redis://127.0.0.1:${port}`, { timeoutMs: 500 });
      try {
        await probe.connect();
        const addr = (await probe.call('SENTINEL', 'get-master-addr-by-name', masterName)) as string[] | null;
        return addr?.[1] === '6379';
      } catch {
        return false;
      } finally {
        probe.disconnect();
      }
    }, 20_000);
  });

  after(() => {
    for (const c of clients) c.disconnect();
    sentinel?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const client = () => {
    const c = createRedis('redis://127.0.0.1:6379', {
      sentinels: [{ host: '127.0.0.1', port }],
      masterName,
      keyPrefix: `test:sentinel:${randomBytes(4).toString('hex')}:`,
    });
    clients.push(c);
    return c;
  };

  test('finds the primary through the Sentinel', async () => {
    const c = client();
    await c.connect();
    assert.equal(await c.ping(), 'PONG');
  });

  test("the connector's disconnect() during a reconnect (FailoverDetector on +switch-master) does not end the client", async () => {
    const c = client();
    await c.connect();
    const ended = new Promise<void>((resolve) => c.once('end', () => resolve()));
    // What a broken primary connection does: a reconnect, which asks the Sentinel first...
    c.disconnect(true);
    await new Promise<void>((resolve) => c.once('connecting', () => resolve()));
    // ...and what FailoverDetector does when +switch-master arrives meanwhile.
    (c as unknown as { connector: { disconnect(): void } }).connector.disconnect();
    let scheduled = false;
    c.once(RECONNECT_SCHEDULED, () => {
      scheduled = true;
    });
    await ended; // ioredis gave this client up...
    assert.equal(scheduled, true);
    // ...and it is back: commands work again.
    await eventually(async () => (await c.ping().catch(() => '')) === 'PONG', 20_000);
    assert.equal(c.status, 'ready');
  });

  test('a client closed on purpose (quit) stays closed', async () => {
    const c = client();
    await c.connect();
    let scheduled = false;
    c.on(RECONNECT_SCHEDULED, () => {
      scheduled = true;
    });
    // createRedis' own 'end' listener was added first: it has decided when this one runs.
    const ended = new Promise<void>((resolve) => c.once('end', () => resolve()));
    await c.quit();
    await ended;
    assert.equal(scheduled, false);
    assert.equal(c.status, 'end');
  });
});
