/**
 * Long-running child processes that cannot outlive the test that started them: each runs in
 * its own process group (stopped as a group: SIGTERM, then SIGKILL), under `setpriv
 * --pdeathsig SIGKILL` where util-linux has it (so even a SIGKILLed test process takes them
 * along), and every group still running when this process exits is killed synchronously.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';

export interface Managed {
  name: string;
  pid: number;
  logFile: string;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<string>;
  /** The last lines of its log (for error messages). */
  tail(lines?: number): string;
  stop(timeoutMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

process.on('exit', () => {
  for (const child of running) killGroup(child, 'SIGKILL');
});

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((f) => existsSync(f));

export function startProcess(
  name: string,
  command: string,
  args: string[],
  opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
): Managed {
  const fd = openSync(opts.logFile, 'a');
  const [file, argv] = SETPRIV
    ? [SETPRIV, ['--pdeathsig', 'SIGKILL', '--', command, ...args]]
    : [command, args];
  const child = spawn(file, argv, {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  running.add(child);
  const exited = new Promise<string>((resolve) => {
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve(signal ? `signal ${signal}` : `exit code ${code}`);
    });
    child.on('error', (err) => {
      running.delete(child);
      resolve(`error ${err.message}`);
    });
  });
  const tail = (lines = 20) => {
    try {
      return readFileSync(opts.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  const stop = async (timeoutMs = 10_000) => {
    if (!running.has(child)) return;
    killGroup(child, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        killGroup(child, 'SIGKILL');
        resolve();
      }, timeoutMs);
    });
    await Promise.race([exited.then(() => undefined), late]);
    clearTimeout(timer);
    await exited;
  };
  return { name, pid: child.pid, logFile: opts.logFile, exited, tail, stop };
}
