/**
 * HAProxy (Debian's) in front of the service processes: one frontend per Kubernetes Service that
 * traffic enters by (`order-service`, `user-service`, `user-service-preview`), one server per
 * build of the service behind it. The glue sets the servers' weights on the runtime API (stats
 * socket) as the controller changes the cluster; every request is logged with its accept time,
 * frontend and server, which is how the rehearsal knows what each version really received.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { type Managed, startProcess } from '@mdp/cluster/processes';
import { systemTool } from '@mdp/cluster/tools';

export interface Backend {
  /** Frontend and backend name: the Service's. */
  name: string;
  port: number;
  /** Server name → address of the process (127.0.0.1:port). */
  servers: Record<string, number>;
  /** Weights before the glue sets any. */
  initial: Record<string, number>;
}

export interface LoggedRequest {
  /** Accept time, ms since the epoch. */
  at: number;
  frontend: string;
  server: string;
  status: number;
  ms: number;
}

export interface HAProxy {
  url(frontend: string): string;
  setWeight(frontend: string, server: string, weight: number): Promise<void>;
  /** Points a server at another port (a process started later, on a port free then). */
  setPort(frontend: string, server: string, port: number): Promise<void>;
  /** Requests logged so far (accept time at or after `since`). */
  requests(since?: number): LoggedRequest[];
  stop(): Promise<void>;
}

function config(dir: string, backends: Backend[]): string {
  const lines = [
    'global',
    `  stats socket ${path.join(dir, 'admin.sock')} mode 600 level admin`,
    '  log stdout format raw local0',
    '  maxconn 2000',
    'defaults',
    '  mode http',
    '  log global',
    // accept date (s.ms) + handshake + idle time = when the request came (on a kept-alive
    // connection the accept date is the previous request's end); frontend, server, status, total
    '  log-format "%Ts.%ms %Th %Ti %ft %s %ST %Ta"',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    '  option http-keep-alive',
  ];
  for (const b of backends) {
    lines.push(`frontend ${b.name}`, `  bind 127.0.0.1:${b.port}`, `  default_backend ${b.name}`);
    lines.push(`backend ${b.name}`, '  balance roundrobin');
    for (const [server, port] of Object.entries(b.servers))
      lines.push(`  server ${server} 127.0.0.1:${port} weight ${b.initial[server] ?? 0}`);
  }
  return `${lines.join('\n')}\n`;
}

function runtime(socket: string, command: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(socket);
    let out = '';
    const timer = setTimeout(() => c.destroy(new Error(`haproxy: ${command} timed out`)), timeoutMs);
    c.on('connect', () => c.end(`${command}\n`));
    c.on('data', (d) => {
      out += d;
    });
    c.on('close', () => {
      clearTimeout(timer);
      resolve(out.trim());
    });
    c.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export function parseLog(text: string, since = 0): LoggedRequest[] {
  const out: LoggedRequest[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+)\.(\d{3}) (-?\d+) (-?\d+) (\S+) (\S+) (-?\d+) (-?\d+)$/.exec(line.trim());
    if (!m) continue;
    const at = Number(m[1]) * 1000 + Number(m[2]) + Math.max(0, Number(m[3])) + Math.max(0, Number(m[4]));
    if (at < since) continue;
    out.push({
      at,
      frontend: m[5] as string,
      server: m[6] as string,
      status: Number(m[7]),
      ms: Number(m[8]),
    });
  }
  return out.sort((a, b) => a.at - b.at);
}

export async function startHAProxy(dir: string, backends: Backend[]): Promise<HAProxy> {
  const cfg = path.join(dir, 'haproxy.cfg');
  writeFileSync(cfg, config(dir, backends));
  const bin = systemTool('haproxy');
  const logFile = path.join(dir, 'haproxy.log');
  const proc: Managed = startProcess('haproxy', bin, ['-db', '-f', cfg], { logFile });
  const socket = path.join(dir, 'admin.sock');
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      if ((await runtime(socket, 'show info')).includes('Name: HAProxy')) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`haproxy did not start:\n${proc.tail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const ports = new Map(backends.map((b) => [b.name, b.port]));
  return {
    url: (frontend) => `http://127.0.0.1:${ports.get(frontend)}`,
    async setWeight(frontend, server, weight) {
      const out = await runtime(socket, `set weight ${frontend}/${server} ${weight}`);
      if (out) throw new Error(`haproxy: set weight ${frontend}/${server} ${weight}: ${out}`);
    },
    async setPort(frontend, server, port) {
      const out = await runtime(socket, `set server ${frontend}/${server} addr 127.0.0.1 port ${port}`);
      if (!/changed|no need to change/i.test(out))
        throw new Error(`haproxy: set server ${frontend}/${server}: ${out}`);
    },
    requests: (since = 0) => parseLog(readFileSync(logFile, 'utf8'), since),
    stop: () => proc.stop(),
  };
}
