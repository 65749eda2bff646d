/**
 * Test-owned PostgreSQL 15 clusters (Debian's binaries, run as the postgres user through
 * pg_ctl, on free ports, in the drill's temp dir; never the machine's cluster on 5432): a
 * primary with WAL archiving to a pgBackRest repository, streaming standbys, and restores.
 */
import { appendFileSync, chownSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '@mdp/platform/testing';
import pg from 'pg';
import { adoptGroup, forgetGroup, groupAlive, run, sleep, userIds, waitFor } from './procs.js';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
export const STANZA = 'mdp';
/** The PATH every PostgreSQL command of a drill (and of a runbook step) runs with. */
export const PG_PATH = `${PG_BIN}:/usr/lib/rabbitmq/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

export interface PgNode {
  name: string;
  port: number;
  data: string;
  /** Unix socket directory (also the dir of its log and pgBackRest config). */
  home: string;
  /** pgBackRest config of this node (its own pg1-path and port, the shared repository). */
  backrestConf: string;
  pid?: number;
}

/** Runs a command as the postgres user with the PostgreSQL binaries first on the PATH. */
export function asPostgres(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 120_000,
) {
  return run('runuser', ['-u', 'postgres', '--', cmd, ...args], {
    env: { ...env, PATH: PG_PATH },
    timeoutMs,
  });
}

export async function asPostgresOk(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 120_000,
) {
  const r = await asPostgres(cmd, args, env, timeoutMs);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export function writeAsPostgres(file: string, text: string, append = false) {
  if (append) appendFileSync(file, text);
  else writeFileSync(file, text);
  const { uid, gid } = userIds('postgres');
  chownSync(file, uid, gid);
}

export interface PgSet {
  repo: string;
  nodes: PgNode[];
  newNode(name: string): Promise<PgNode>;
  start(node: PgNode): Promise<void>;
  /** Kills the postmaster's whole process group with SIGKILL: a lost machine. */
  crash(node: PgNode): Promise<void>;
  stop(node: PgNode): Promise<void>;
  /** A superuser connection (trust on loopback, test-owned cluster only). */
  admin(node: PgNode, database?: string): pg.Client;
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(
    node: PgNode,
    sql: string,
    params?: unknown[],
    database?: string,
  ): Promise<T[]>;
  /** Environment of a runbook step for `node` (PGDATA, PGPORT, PGHOST, BACKREST_CONF, ...). */
  stepEnv(node: PgNode): Record<string, string>;
}

export async function pgSet(base: {
  dir: string;
  sub(name: string, owner?: string): string;
}): Promise<PgSet> {
  const repo = base.sub('pgbackrest-repo', 'postgres');
  const nodes: PgNode[] = [];

  const set: PgSet = {
    repo,
    nodes,
    async newNode(name) {
      const home = base.sub(name, 'postgres');
      const node: PgNode = {
        name,
        port: await freePort(),
        data: path.join(home, 'data'),
        home,
        backrestConf: path.join(home, 'pgbackrest.conf'),
      };
      writeAsPostgres(
        node.backrestConf,
        [
          '[global]',
          `repo1-path=${repo}`,
          'repo1-retention-full=2',
          `log-path=${home}`,
          `lock-path=${home}`,
          'log-level-console=warn',
          'log-level-file=info',
          'start-fast=y',
          'compress-type=lz4',
          '',
          `[${STANZA}]`,
          `pg1-path=${node.data}`,
          `pg1-port=${node.port}`,
          `pg1-socket-path=${home}`,
          '',
        ].join('\n'),
      );
      nodes.push(node);
      return node;
    },
    async start(node) {
      await asPostgresOk('pg_ctl', [
        '-D',
        node.data,
        '-l',
        path.join(node.home, 'postgres.log'),
        '-w',
        '-t',
        '120',
        'start',
      ]);
      adoptPostmaster(node);
    },
    async crash(node) {
      if (node.pid === undefined) return;
      try {
        process.kill(-node.pid, 'SIGKILL');
      } catch {}
      const pid = node.pid;
      await waitFor(`${node.name} gone`, () => !groupAlive(pid), 10_000, 50);
      forgetGroup(pid);
      node.pid = undefined;
    },
    async stop(node) {
      if (node.pid === undefined) return;
      await asPostgres('pg_ctl', ['-D', node.data, '-m', 'fast', '-w', '-t', '60', 'stop']);
      forgetGroup(node.pid);
      node.pid = undefined;
    },
    admin: (node, database = 'postgres') =>
      new pg.Client({
        host: '127.0.0.1',
        port: node.port,
        user: 'postgres',
        database,
        connectionTimeoutMillis: 5000,
        statement_timeout: 30_000,
      }),
    async query(node, sql, params, database) {
      const c = set.admin(node, database);
      await c.connect();
      try {
        return (await c.query(sql, params as unknown[])).rows;
      } finally {
        await c.end();
      }
    },
    stepEnv: (node) => ({
      PGDATA: node.data,
      PGPORT: String(node.port),
      PGHOST: node.home,
      PGUSER: 'postgres',
      BACKREST_CONF: node.backrestConf,
      STANZA,
    }),
  };
  return set;
}

/**
 * Registers a postmaster started by pg_ctl (here or in a runbook step) for the final cleanup:
 * pg_ctl starts it in its own session, so its pid leads its process group.
 */
export function adoptPostmaster(node: PgNode): void {
  const pid = Number(readFileSync(path.join(node.data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  node.pid = pid;
  adoptGroup(pid);
}

/** postgresql.conf of the drill's primary: what CloudNativePG sets for a 3-instance cluster. */
export function primaryConf(node: PgNode): string {
  return [
    "listen_addresses = '127.0.0.1'",
    `port = ${node.port}`,
    `unix_socket_directories = '${node.home}'`,
    'shared_buffers = 32MB',
    'max_connections = 100',
    'wal_level = replica',
    'max_wal_senders = 10',
    'max_replication_slots = 10',
    'wal_keep_size = 512MB',
    'hot_standby = on',
    // pg_rewind needs hint bits in the WAL (data checksums give it too).
    'wal_log_hints = on',
    'track_commit_timestamp = on',
    'archive_mode = on',
    `archive_command = 'pgbackrest --config=${node.backrestConf} --stanza=${STANZA} archive-push %p'`,
    'archive_timeout = 60s',
    // Quorum commit (synchronous_standby_names = 'ANY 1 (...)') is switched on once the
    // standbys stream (the failover runbook's pg-sync-standbys step).
    'synchronous_commit = on',
    "log_line_prefix = '%m [%p] %q%u@%d '",
    '',
  ].join('\n');
}

export function hbaConf(): string {
  return [
    '# test-owned drill cluster: superuser and replication trusted on loopback only,',
    '# service roles by password (SCRAM), as in production.',
    'local all all trust',
    'host all postgres 127.0.0.1/32 trust',
    'host replication postgres 127.0.0.1/32 trust',
    'host all all 127.0.0.1/32 scram-sha-256',
    '',
  ].join('\n');
}

export async function initPrimary(set: PgSet, node: PgNode): Promise<void> {
  await asPostgresOk('initdb', [
    '-D',
    node.data,
    '-U',
    'postgres',
    '--data-checksums',
    '-A',
    'trust',
    '-E',
    'UTF8',
    '--locale=C.UTF-8',
  ]);
  writeAsPostgres(path.join(node.data, 'postgresql.conf'), primaryConf(node), true);
  writeAsPostgres(path.join(node.data, 'pg_hba.conf'), hbaConf());
  await set.start(node);
}

/** The standby-specific settings, written after a base backup or a rewind. */
export function standbyConf(node: PgNode, primary: PgNode): string {
  return [
    `port = ${node.port}`,
    `unix_socket_directories = '${node.home}'`,
    `archive_command = 'pgbackrest --config=${node.backrestConf} --stanza=${STANZA} archive-push %p'`,
    `primary_conninfo = 'host=127.0.0.1 port=${primary.port} user=postgres application_name=${node.name}'`,
    '',
  ].join('\n');
}

export async function waitReady(set: PgSet, node: PgNode, timeoutMs = 60_000) {
  await waitFor(
    `${node.name} accepts connections`,
    async () => (await set.query(node, 'SELECT 1')).length === 1,
    timeoutMs,
    200,
  );
}

/** Standbys streaming from `primary`, as pg_stat_replication shows them. */
export async function streaming(
  set: PgSet,
  primary: PgNode,
): Promise<{ application_name: string; sync_state: string }[]> {
  return set.query(
    primary,
    "SELECT application_name, sync_state FROM pg_stat_replication WHERE state = 'streaming'",
  );
}

export { sleep };
