/**
 * The runbooks in docs/operations/ are executed, not only read: each step there is a fenced
 * `sh` block right after a `<!-- step: ID -->` marker, and the drills run those very blocks
 * (bash -euo pipefail) with the step's variables in the environment. A runbook step that no
 * longer works fails its drill.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PG_PATH } from './pg.js';
import { type RunResult, run } from './procs.js';

const DOCS = path.resolve(import.meta.dirname, '../../../docs/operations');

export function runbookStep(doc: string, id: string): string {
  const text = readFileSync(path.join(DOCS, doc), 'utf8');
  const marker = `<!-- step: ${id} -->`;
  const at = text.indexOf(marker);
  if (at === -1) throw new Error(`${doc}: no step ${id}`);
  const block = /```sh\n([\s\S]*?)```/.exec(text.slice(at + marker.length));
  if (!block?.[1]) throw new Error(`${doc}: step ${id} has no sh block`);
  return block[1];
}

/** Every step id of a runbook, in order (the drills check they ran them all). */
export function runbookSteps(doc: string): string[] {
  const text = readFileSync(path.join(DOCS, doc), 'utf8');
  return [...text.matchAll(/<!-- step: ([a-z0-9-]+) -->/g)].map((m) => m[1] as string);
}

export interface StepRun extends RunResult {
  ms: number;
}

const executed = new Map<string, Set<string>>();

/** Runs one step; `user: 'postgres'` runs it as the postgres user (as inside a database pod). */
export async function runStep(
  doc: string,
  id: string,
  env: Record<string, string>,
  opts: { user?: string; timeoutMs?: number } = {},
): Promise<StepRun> {
  const script = runbookStep(doc, id);
  const started = Date.now();
  const fullEnv = { ...env, PATH: PG_PATH };
  const r = opts.user
    ? await run('runuser', ['-u', opts.user, '--', 'bash', '-euo', 'pipefail', '-c', script], {
        env: fullEnv,
        timeoutMs: opts.timeoutMs ?? 120_000,
      })
    : await run('bash', ['-euo', 'pipefail', '-c', script], {
        env: fullEnv,
        timeoutMs: opts.timeoutMs ?? 120_000,
      });
  if (r.code !== 0) throw new Error(`runbook ${doc} step ${id} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  const set = executed.get(doc) ?? new Set<string>();
  set.add(id);
  executed.set(doc, set);
  return { ...r, ms: Date.now() - started };
}

/** Steps of `doc` that no drill has run in this process. */
export function stepsNotRun(doc: string): string[] {
  const done = executed.get(doc) ?? new Set();
  return runbookSteps(doc).filter((id) => !done.has(id));
}
