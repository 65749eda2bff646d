#!/usr/bin/env node
// npm run bench:idle — time from `npm start` to all services ready, and each service's
// idle RSS, for the compiled services (as in a container) and for the tsx development mode.
// Uses ports BENCH_PORT_BASE (default 48080) to +4. Prints one line per figure.
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const IDLE_MS = Number(process.env.IDLE_MS ?? 10_000);

function rssOfChildren(ppid) {
  const out = {};
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      if (Number(/PPid:\s+(\d+)/.exec(status)?.[1]) !== ppid) continue;
      const cwd = execFileSync('readlink', [`/proc/${pid}/cwd`])
        .toString()
        .trim();
      if (!cwd.includes('/services/')) continue;
      out[path.basename(cwd)] = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
    } catch {}
  }
  return out;
}

async function measure(mode) {
  const started = Date.now();
  const child = spawn(process.execPath, ['--conditions=mdp-source', '--import', 'tsx', 'scripts/start.ts'], {
    cwd: root,
    env: {
      ...process.env,
      PORT_BASE: process.env.BENCH_PORT_BASE ?? '48080',
      START_MODE: mode,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  while (!out.includes('ready in')) {
    if (child.exitCode !== null) throw new Error(`start failed:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const readyS = (Date.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const rss = rssOfChildren(child.pid);
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  process.stdout.write(`${mode}: start to all ready ${readyS.toFixed(1)} s\n`);
  for (const [svc, mb] of Object.entries(rss).sort()) {
    process.stdout.write(`${mode}: idle RSS ${svc} ${mb.toFixed(0)} MB\n`);
  }
}

execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
await measure('dist');
await measure('tsx');
