/** Runs one of @mdp/api-client's command lines (as `npm run smoke` / `npm run loadtest` do). */
import { execFile } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

export function apiClientCli(script: 'smoke' | 'loadtest', args: string[], timeoutMs = 120_000) {
  return new Promise<{ code: number; stdout: string; stderr: string; last: Record<string, unknown> }>(
    (resolve) => {
      execFile(
        process.execPath,
        ['--conditions=mdp-source', '--import', 'tsx', `packages/api-client/src/${script}.ts`, ...args],
        { cwd: ROOT, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          let last: Record<string, unknown> = {};
          try {
            last = JSON.parse(stdout.trim().split('\n').at(-1) ?? '');
          } catch {
            // asserted by the caller
          }
          resolve({ code, stdout, stderr, last });
        },
      );
    },
  );
}
