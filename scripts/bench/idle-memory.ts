/**
 * `npm run bench:idle-memory`: where each compiled service's idle memory goes, on an isolated
 * stack (fresh databases, vhost and Redis prefix; `npm run build` first). For each variant
 * (with / without the tracing preload, and node options given in IDLE_VARIANTS) it starts the five
 * services, waits IDLE_MS (default 10 s) and prints per service: RSS (anonymous + file-backed,
 * from /proc), and V8's heap used / heap total and external memory (the service's own /metrics).
 * Prints issue 16's goal (idle RSS <= 120 MB per compiled service) as met / not met.
 *
 * Settings: IDLE_MS, BENCH_PORT_BASE (the services listen from there; default free ports),
 * IDLE_VARIANTS: `;`-separated node option lists (default: the production command line, then
 * without the preload).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { startStack } from '@mdp/stack/processes';
import { loadServices } from '@mdp/stack/services';

const IDLE_MS = Number(process.env.IDLE_MS ?? 10_000);
const say = (s: string) => process.stdout.write(`${s}\n`);

function procMemory(pid: number | undefined): { rss: number; anon: number; file: number } {
  const status = pid ? readFileSync(`/proc/${pid}/status`, 'utf8') : '';
  const kb = (field: string) =>
    Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) / 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)`, 'm').exec(text);
  return m ? Number(m[1]) / 1024 / 1024 : Number.NaN;
}

async function variant(label: string, telemetry: boolean, nodeArgs: string[]) {
  const names = (await loadServices()).map((s) => s.name);
  const stack = await startStack({
    dist: true,
    telemetry,
    logLevel: 'warn',
    nodeArgs: Object.fromEntries(names.map((n) => [n, nodeArgs])),
    ...(process.env.BENCH_PORT_BASE ? { portBase: Number(process.env.BENCH_PORT_BASE) } : {}),
  });
  try {
    await new Promise((r) => setTimeout(r, IDLE_MS));
    say(`${label}:`);
    say(
      `  ${'service'.padEnd(21)} ${'RSS'.padStart(5)} ${'anon'.padStart(5)} ${'file'.padStart(5)} ${'heap used'.padStart(10)} ${'heap total'.padStart(11)} ${'external'.padStart(9)}  (MB)`,
    );
    let worst = 0;
    for (const name of stack.services) {
      const url = stack.urls[name] as string;
      const m = procMemory(stack.procs[name]?.pid);
      const [used, total, external] = await Promise.all([
        metric(url, 'nodejs_heap_size_used_bytes'),
        metric(url, 'nodejs_heap_size_total_bytes'),
        metric(url, 'nodejs_external_memory_bytes'),
      ]);
      worst = Math.max(worst, m.rss);
      say(
        `  ${name.padEnd(21)} ${m.rss.toFixed(0).padStart(5)} ${m.anon.toFixed(0).padStart(5)} ${m.file.toFixed(0).padStart(5)} ${used.toFixed(1).padStart(10)} ${total.toFixed(1).padStart(11)} ${external.toFixed(1).padStart(9)}`,
      );
    }
    say(
      `  goal (issue 16) idle RSS <= 120 MB per compiled service: ${worst <= 120 ? 'met' : 'NOT met'} (largest ${worst.toFixed(0)} MB)`,
    );
  } finally {
    await stack.stop();
  }
}

const variants = process.env.IDLE_VARIANTS?.split(';').map((v) => v.trim().split(/\s+/).filter(Boolean));
say(
  `(load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}; idle ${IDLE_MS / 1000} s after ready)`,
);
if (variants) {
  for (const args of variants)
    await variant(`with the tracing preload, node ${args.join(' ') || '(no options)'}`, true, args);
} else {
  await variant('as in production (tracing preload)', true, []);
  await variant('without the tracing preload', false, []);
}
