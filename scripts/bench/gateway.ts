/**
 * npm run bench:gateway — the cost of the gateway hop, measured in one run on this machine:
 * autocannon against (1) a bare Fastify JSON route and (2) the same JSON through the gateway
 * (api-gateway → a platform-kit service), 50 connections each. Prints requests/s, p50 and p99
 * for both and their ratio, plus the CPU time per request of the server processes on each path
 * (read from /proc; steadier than req/s on a shared machine) and, for reference, a plain proxy
 * hop (reply-from alone), and a signed-in call (bearer token checked by the gateway). Each
 * server runs in its own process. The gateway reads the shipped flags (rate limit raised).
 *
 * Settings (environment): BENCH_CONNECTIONS (50), BENCH_DURATION seconds (10), BENCH_WARMUP
 * seconds (2), LOG_LEVEL of the servers (warn: per-request info logging is measured separately),
 * BENCH_PORT_BASE (the servers listen on it and the next three ports; default: free ports),
 * BENCH_CPU_PROF=DIR (a V8 CPU profile of every server process into DIR/<role>/, written at
 * exit; the largest file there is the main thread's).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { generateSigningKeys, signAccessToken } from '@mdp/platform/auth';
import autocannon from 'autocannon';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const duration = Number(process.env.BENCH_DURATION ?? 10);
const warmup = Number(process.env.BENCH_WARMUP ?? 2);
const portBase = Number(process.env.BENCH_PORT_BASE ?? 0);
const profileDir = process.env.BENCH_CPU_PROF;
const children: ChildProcess[] = [];
const print = (line: string) => process.stdout.write(`${line}\n`);

interface Server {
  url: string;
  pid: number;
}

function start(role: string, env: Record<string, string> = {}): Promise<Server> {
  const port = portBase ? portBase + children.length : 0;
  const profile = profileDir
    ? // One directory per server: tsx's module-loader thread writes a profile of its own.
      ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profileDir, role)}`]
    : [];
  const child = spawn(
    process.execPath,
    [...profile, '--conditions=mdp-source', '--import', 'tsx', path.join(here, 'gateway-server.ts'), role],
    {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...env, BENCH_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${role} did not start within 30 s`)), 30_000);
    child.once('exit', (code) => reject(new Error(`${role} exited with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const m = /^READY (\S+)/.exec(line);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ url: m[1], pid: child.pid as number });
      }
    });
  });
}

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime) in clock ticks; after the ')' they are at index 11 and 12.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}
const CLOCK_TICKS = 100;

interface Figures {
  /** CPU microseconds per request, summed over the server processes on the path. */
  cpuUsPerRequest: number;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function load(
  url: string,
  seconds: number,
  pids: number[],
  rate?: number,
  headers?: Record<string, string>,
): Promise<Figures> {
  const cpu0 = pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
  const r = await autocannon({
    url,
    connections,
    duration: seconds,
    pipelining: 1,
    ...(rate ? { overallRate: rate } : {}),
    ...(headers ? { headers } : {}),
  });
  const cpu = pids.reduce((sum, pid) => sum + cpuMs(pid), 0) - cpu0;
  return {
    cpuUsPerRequest: (cpu * 1000) / Math.max(1, r.requests.total),
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}

async function measure(
  name: string,
  url: string,
  pids: number[],
  headers?: Record<string, string>,
): Promise<Figures> {
  if (warmup > 0) await load(url, warmup, pids, undefined, headers);
  const f = await load(url, duration, pids, undefined, headers);
  if (f.non2xx || f.errors) console.warn(`${name}: ${f.non2xx} non-2xx answers, ${f.errors} errors/timeouts`);
  return f;
}

async function main() {
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-gw-'));
  try {
    const flagsFile = path.join(dir, 'flags.json');
    // The shipped flags (every kill switch the gateway reads on each request), with a limit far
    // above what one machine can send: the limiter still runs (Redis round trip on every
    // request) but never refuses.
    const flags = JSON.parse(readFileSync(path.join(root, 'config/flags/flags.json'), 'utf8'));
    flags.flags['gateway.rate-limit-per-minute'].variants.bench = 100_000_000;
    flags.flags['gateway.rate-limit-per-minute'].defaultVariant = 'bench';
    await writeFile(flagsFile, JSON.stringify(flags));
    const keys = await generateSigningKeys();
    const bare = await start('bare');
    const upstream = await start('upstream');
    const gateway = await start('gateway', {
      UPSTREAM_URL: upstream.url,
      JWT_PUBLIC_KEY: keys.publicKey,
      FLAGS_FILE: flagsFile,
      BENCH_REDIS_PREFIX: `bench:gw:${process.pid}:`,
    });

    const plain = await start('plain-proxy', { UPSTREAM_URL: upstream.url });
    print(
      `autocannon: ${connections} connections, ${duration} s per target (after ${warmup} s warm-up); ` +
        `${cpus().length} CPUs, load average ${loadavg()[0]?.toFixed(1)} at start`,
    );
    const a = await measure('bare', `${bare.url}/products/p-1`, [bare.pid]);
    const b = await measure('gateway', `${gateway.url}/api/products/p-1`, [gateway.pid, upstream.pid]);
    const c = await measure('plain proxy', `${plain.url}/api/products/p-1`, [plain.pid, upstream.pid]);
    // A signed-in call (GET /api/orders/:id, the same JSON): the token check at the gateway.
    const { token } = await signAccessToken({ id: 'bench-user', role: 'customer' }, keys.privateKey);
    const d = await measure(
      'gateway signed in',
      `${gateway.url}/api/orders/o-1`,
      [gateway.pid, upstream.pid],
      {
        authorization: `Bearer ${token}`,
      },
    );

    const row = (name: string, f: Figures) =>
      `${name.padEnd(40)} ${f.rps.toFixed(0).padStart(9)} ${String(f.p50).padStart(8)} ${String(f.p99).padStart(8)} ${f.cpuUsPerRequest.toFixed(0).padStart(12)}`;
    print(
      `${'target'.padEnd(40)} ${'req/s'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'CPU us/req'.padStart(12)}`,
    );
    print(row('bare Fastify JSON route', a));
    print(row('gateway -> service (/api/products)', b));
    print(row('(reference) plain proxy hop -> service', c));
    print(row('gateway, signed in (/api/orders/:id)', d));
    // Latency at a fixed rate (half of what the gateway path sustained), not flat out: at
    // saturation p99 is mostly queueing time, whatever the gateway does.
    const rate = Math.max(50, Math.round(b.rps / 2));
    const fixed = await load(`${gateway.url}/api/products/p-1`, duration, [gateway.pid, upstream.pid], rate);
    print(row(`gateway -> service at fixed ${rate} req/s`, fixed));
    print(
      `load average ${loadavg()[0]?.toFixed(1)} at the end (other work on the machine skews req/s; CPU us/req less so)`,
    );
    const ratio = b.rps / a.rps;
    print(`throughput ratio gateway/bare: ${(ratio * 100).toFixed(1)}%`);
    print(
      `(reference) plain proxy hop/bare: ${((c.rps / a.rps) * 100).toFixed(1)}%; gateway/plain proxy: ${((b.rps / c.rps) * 100).toFixed(1)}%`,
    );
    const overPlain = b.cpuUsPerRequest / c.cpuUsPerRequest;
    print(
      `goal (issue 16): gateway CPU per request <= 1.2x the plain proxy hop: ${overPlain.toFixed(2)}x -> ${overPlain <= 1.2 ? 'met' : 'NOT met'}; ` +
        `throughput >= 20% of bare: ${(ratio * 100).toFixed(1)}% -> ${ratio >= 0.2 ? 'met' : 'NOT met'}`,
    );
    print(
      `target (issue 3): ratio >= 20% -> ${ratio >= 0.2 ? 'met' : 'NOT met'}; gateway p99 < 25 ms at ${connections} connections -> ` +
        `flat out ${b.p99 < 25 ? 'met' : 'NOT met'}, at the fixed rate ${fixed.p99 < 25 ? 'met' : 'NOT met'}`,
    );
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  for (const c of children) c.kill('SIGTERM');
  process.exit(1);
});
