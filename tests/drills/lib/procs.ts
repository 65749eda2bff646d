/**
 * Processes a drill starts: each leads its own process group (so a node's whole tree can be
 * killed at once, as a lost machine would be), logs to a file in the drill's temp dir, and is
 * registered so that `stopAll()` ends every group still alive — also when a test fails, and
 * when the test process itself is ended (exit handler).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually } from '@mdp/platform/testing';

export interface Proc {
  name: string;
  pid: number;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
  alive(): boolean;
  /** Signals the whole process group. */
  signal(sig: NodeJS.Signals): void;
  /** The last `chars` characters of its log. */
  log(chars?: number): string;
}

const groups = new Set<number>();

function killGroup(pid: number, sig: NodeJS.Signals) {
  try {
    process.kill(-pid, sig);
  } catch {}
}

process.once('exit', () => {
  for (const pid of groups) killGroup(pid, 'SIGKILL');
});

/** A detached child in its own process group, stdout+stderr to `logFile`. */
export function startProc(
  name: string,
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; logFile: string },
): Proc {
  const fd = openSync(opts.logFile, 'a');
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  groups.add(pid);
  let done = false;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      done = true;
      resolve(code);
    }),
  );
  return {
    name,
    pid,
    child,
    logFile: opts.logFile,
    exited,
    alive: () => !done,
    signal: (sig) => killGroup(pid, sig),
    log: (chars = 4000) => {
      try {
        return readFileSync(opts.logFile, 'utf8').slice(-chars);
      } catch {
        return '';
      }
    },
  };
}

/** Registers a process group started by someone else (pg_ctl's postmaster leads its own session). */
export function adoptGroup(pid: number): void {
  groups.add(pid);
}

export function forgetGroup(pid: number): void {
  groups.delete(pid);
}

/** SIGTERM to every registered group, SIGKILL to what is left after `graceMs`. */
export async function stopAll(graceMs = 5000): Promise<void> {
  const pids = [...groups];
  for (const pid of pids) killGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  for (const pid of pids) {
    while (Date.now() < deadline && groupAlive(pid)) await sleep(100);
    if (groupAlive(pid)) killGroup(pid, 'SIGKILL');
    groups.delete(pid);
  }
}

export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (bounded in time); never throws on a non-zero exit. */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number; input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      {
        cwd: opts.cwd,
        env: { ...process.env, ...opts.env },
        timeout: opts.timeoutMs ?? 60_000,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({
          code,
          stdout: String(stdout),
          stderr: String(stderr) || (err && !stderr ? err.message : ''),
        });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Like run(), but a non-zero exit throws with the command's output. */
export async function runOk(
  cmd: string,
  args: string[],
  opts: Parameters<typeof run>[2] = {},
): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Polls until `fn` returns a truthy value; throws naming `what` (and the last error) after `timeoutMs`. */
export function waitFor<T>(what: string, fn: () => Promise<T> | T, timeoutMs: number, everyMs = 200) {
  return eventually(fn, timeoutMs, everyMs).catch((err: Error) => {
    throw new Error(`${what}: ${err.message}`);
  });
}

/** A temp dir for one drill; `owner` (e.g. postgres) gets it when the processes run as that user. */
export function drillDir(prefix: string): {
  dir: string;
  sub(name: string, owner?: string): string;
  remove(): void;
} {
  const dir = mkdtempSync(path.join(tmpdir(), `mdp-drill-${prefix}-`));
  chmodSync(dir, 0o755);
  return {
    dir,
    sub(name, owner) {
      const p = path.join(dir, name);
      mkdirSync(p, { recursive: true, mode: 0o700 });
      if (owner) {
        const { uid, gid } = userIds(owner);
        chownSync(p, uid, gid);
      }
      return p;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function userIds(user: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`no user ${user}`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Seconds with one decimal, for the printed figures. */
export const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
