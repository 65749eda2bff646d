/**
 * A test-owned RabbitMQ cluster (3 nodes unless told) (Debian's rabbitmq-server): own node names, AMQP and
 * distribution ports, data dirs, Erlang cookie and its own epmd on a free port, so nothing is
 * shared with the machine's broker (5672/15672, its node and its epmd). Peer discovery by the
 * classic config (the node list), the way the cluster operator's peer discovery ends up.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '@mdp/platform/testing';
import { type Proc, run, startProc, waitFor } from './procs.js';

const RABBIT_BIN = '/usr/lib/rabbitmq/bin';

export interface RabbitNode {
  name: string;
  node: string;
  amqpPort: number;
  distPort: number;
  dir: string;
  proc?: Proc;
}

export interface RabbitCluster {
  user: string;
  password: string;
  nodes: RabbitNode[];
  start(n: RabbitNode): Proc;
  ctl(n: RabbitNode, args: string[], timeoutMs?: number): Promise<string>;
  queues(n: RabbitNode, vhost?: string): Promise<Record<string, unknown>[]>;
  runningNodes(n: RabbitNode): Promise<string[]>;
  /** Environment of rabbitmqctl / runbook steps (cookie home, epmd port). */
  ctlEnv: Record<string, string>;
}

export async function startRabbitCluster(
  base: { sub(name: string): string },
  opts: { size?: number } = {},
): Promise<RabbitCluster> {
  const size = opts.size ?? 3;
  const home = base.sub('rabbit-home');
  const cookie = randomBytes(20).toString('hex');
  writeFileSync(path.join(home, '.erlang.cookie'), cookie);
  chmodSync(path.join(home, '.erlang.cookie'), 0o400);
  const epmdPort = await freePort();
  const tag = randomBytes(3).toString('hex');
  const nodes: RabbitNode[] = [];
  for (let i = 1; i <= size; i++) {
    nodes.push({
      name: `rabbit-${i}`,
      node: `drill${tag}${i}@localhost`,
      amqpPort: await freePort(),
      distPort: await freePort(),
      dir: base.sub(`rabbit-${i}`),
    });
  }
  const user = 'mdp';
  const password = randomBytes(18).toString('hex');
  const envFile = path.join(home, 'rabbitmq-env.conf');
  writeFileSync(envFile, '# the drill sets everything through the environment\n');
  const ctlEnv = { HOME: home, ERL_EPMD_PORT: String(epmdPort), RABBITMQ_CONF_ENV_FILE: envFile };
  const epmd = startProc('epmd', 'epmd', ['-port', String(epmdPort), '-address', '127.0.0.1'], {
    logFile: path.join(home, 'epmd.log'),
  });
  void epmd;

  const nodeEnv = (n: RabbitNode): Record<string, string> => {
    const conf = path.join(n.dir, 'rabbitmq.conf');
    writeFileSync(
      conf,
      [
        `listeners.tcp.default = 127.0.0.1:${n.amqpPort}`,
        `default_user = ${user}`,
        `default_pass = ${password}`,
        'cluster_formation.peer_discovery_backend = classic_config',
        ...nodes.map((m, i) => `cluster_formation.classic_config.nodes.${i + 1} = ${m.node}`),
        'log.console = true',
        'log.console.level = warning',
        'log.file = false',
        'disk_free_limit.absolute = 50MB',
        '',
      ].join('\n'),
    );
    writeFileSync(path.join(n.dir, 'enabled_plugins'), '[].\n');
    return {
      ...ctlEnv,
      RABBITMQ_NODENAME: n.node,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(n.amqpPort),
      RABBITMQ_DIST_PORT: String(n.distPort),
      RABBITMQ_MNESIA_BASE: path.join(n.dir, 'mnesia'),
      RABBITMQ_LOG_BASE: path.join(n.dir, 'log'),
      RABBITMQ_CONFIG_FILE: conf,
      RABBITMQ_ADVANCED_CONFIG_FILE: path.join(n.dir, 'advanced.config'),
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(n.dir, 'enabled_plugins'),
      RABBITMQ_PID_FILE: path.join(n.dir, 'pid'),
      RABBITMQ_LOGS: '-',
    };
  };

  const cluster: RabbitCluster = {
    user,
    password,
    nodes,
    ctlEnv,
    start(n) {
      n.proc = startProc(n.name, path.join(RABBIT_BIN, 'rabbitmq-server'), [], {
        env: nodeEnv(n),
        logFile: path.join(n.dir, 'server.log'),
      });
      return n.proc;
    },
    async ctl(n, args, timeoutMs = 60_000) {
      const r = await run(path.join(RABBIT_BIN, 'rabbitmqctl'), ['-n', n.node, ...args], {
        env: ctlEnv,
        timeoutMs,
      });
      if (r.code !== 0) throw new Error(`rabbitmqctl ${args.join(' ')}: ${r.stderr}${r.stdout}`);
      return r.stdout;
    },
    async queues(n, vhost = '/') {
      const out = await cluster.ctl(n, [
        'list_queues',
        '-p',
        vhost,
        '--formatter',
        'json',
        'name',
        'type',
        'messages',
        'leader',
        'members',
        'online',
      ]);
      return JSON.parse(out) as Record<string, unknown>[];
    },
    async runningNodes(n) {
      const out = await cluster.ctl(n, ['cluster_status', '--formatter', 'json'], 20_000);
      return (JSON.parse(out) as { running_nodes: string[] }).running_nodes;
    },
  };

  // The first node forms the cluster; the others find it in the node list and join.
  const [first, ...rest] = nodes as [RabbitNode, ...RabbitNode[]];
  cluster.start(first);
  await waitFor(
    `${first.node} booted`,
    async () =>
      (
        await run(
          path.join(RABBIT_BIN, 'rabbitmqctl'),
          ['-n', first.node, 'await_startup', '--timeout', '5'],
          { env: ctlEnv, timeoutMs: 30_000 },
        )
      ).code === 0,
    180_000,
    1000,
  );
  for (const n of rest) cluster.start(n);
  await waitFor(
    `${size} nodes running`,
    async () => (await cluster.runningNodes(first)).length === size,
    180_000,
    1000,
  );
  return cluster;
}
