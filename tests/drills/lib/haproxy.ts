/**
 * HAProxy in front of the test-owned datastores, playing what Kubernetes Services do in
 * production: `pg-rw` follows the PostgreSQL primary like CloudNativePG's `<cluster>-rw`
 * Service (a server is in only while `pg_is_in_recovery()` is false; its sessions are cut when
 * it drops out), and `amqp` spreads connections over the RabbitMQ nodes that accept TCP, like
 * the operator's client Service. node-postgres and the AMQP URL take one address, as in
 * production.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '@mdp/platform/testing';
import { PG_BIN } from './pg.js';
import { type Proc, startProc, waitFor } from './procs.js';

export interface Endpoints {
  pgPort: number;
  amqpPort: number;
  proc: Proc;
  /** HAProxy's own lines so far on its servers going UP or DOWN (for a failing test's message). */
  stateChanges(): string;
}

export async function startProxy(
  dir: string,
  backends: { pg: { name: string; port: number }[]; amqp: { name: string; port: number }[] },
): Promise<Endpoints> {
  const pgPort = await freePort();
  const amqpPort = await freePort();
  const check = path.join(dir, 'pg-primary-check.sh');
  writeFileSync(
    check,
    `#!/bin/sh\n# HAProxy external check: $3 = server address, $4 = port. Up only on the primary.\n` +
      `${PG_BIN}/psql "host=$3 port=$4 user=postgres dbname=postgres connect_timeout=4" -XAtc 'SELECT NOT pg_is_in_recovery()' 2>/dev/null | grep -qx t\n`,
  );
  chmodSync(check, 0o755);
  const cfg = path.join(dir, 'haproxy.cfg');
  writeFileSync(
    cfg,
    [
      'global',
      '  maxconn 2000',
      '  external-check',
      '  insecure-fork-wanted',
      'defaults',
      '  mode tcp',
      '  timeout connect 2s',
      '  timeout client 10m',
      '  timeout server 10m',
      // A slow check is not a lost primary. CI (two suites at once on 2 cores) twice saw sessions
      // through pg-rw cut with 'Connection terminated unexpectedly' while the primary was up; the
      // likeliest cause is two checks in a row over the old 3 s (a fork of psql under that load),
      // which marks the primary down and shuts its sessions. A killed primary refuses at once: it
      // is still out within 1.5 s. stateChanges() puts HAProxy's own account in a failure.
      '  timeout check 6s',
      'listen pg-rw',
      `  bind 127.0.0.1:${pgPort}`,
      '  balance first',
      '  option external-check',
      `  external-check command ${check}`,
      '  external-check path "/usr/bin:/bin"',
      '  default-server inter 500 fall 3 rise 1 on-marked-down shutdown-sessions',
      ...backends.pg.map((b) => `  server ${b.name} 127.0.0.1:${b.port} check`),
      'listen amqp',
      `  bind 127.0.0.1:${amqpPort}`,
      '  balance leastconn',
      '  default-server inter 500 fall 2 rise 2 on-marked-down shutdown-sessions',
      ...backends.amqp.map((b) => `  server ${b.name} 127.0.0.1:${b.port} check`),
      '',
    ].join('\n'),
  );
  const logFile = path.join(dir, 'haproxy.log');
  const proc = startProc('haproxy', 'haproxy', ['-db', '-f', cfg], { logFile });
  await waitFor('haproxy listening', async () => proc.alive() && (await canConnect(pgPort)), 10_000);
  const stateChanges = () => {
    try {
      const lines = readFileSync(logFile, 'utf8').split('\n');
      return lines.filter((l) => / is (UP|DOWN)|no server available/.test(l)).join('\n');
    } catch {
      return '(no haproxy log)';
    }
  };
  return { pgPort, amqpPort, proc, stateChanges };
}

function canConnect(port: number): Promise<boolean> {
  return import('node:net').then(
    ({ connect }) =>
      new Promise((resolve) => {
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      }),
  );
}
