/**
 * Where the project's engines are: the Go programs that scripts/install-tools.sh builds from pinned
 * module versions and links into `<repo>/.tools/bin` (git-ignored; MDP_TOOLS_BIN overrides it),
 * with the PATH as a fallback, and the machine's own programs (kubectl, openssl, go). A missing
 * one is an error naming the install script: tests that need one fail, they never skip.
 * The one lookup of the repository (packages/cluster re-exports it).
 */
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The repository root: the nearest folder above this file that holds package-lock.json. */
export function repoRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package-lock.json'))) {
      root = dir;
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package-lock.json above ${import.meta.url}`);
    dir = parent;
  }
}

export const INSTALL_COMMAND = 'bash scripts/install-tools.sh';

/** Where install-tools links the engines. */
export const toolsBin = (): string => process.env.MDP_TOOLS_BIN ?? path.join(repoRoot(), '.tools', 'bin');

export class MissingToolError extends Error {
  override name = 'MissingToolError';
}

const executable = (file: string) => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** Where a machine keeps a program off the PATH of a non-login shell. */
const FALLBACKS: Record<string, string[]> = { go: ['/usr/local/go/bin/go'] };

/**
 * The absolute path of program `name`: `.tools/bin/<name>`, else the first one on PATH, else a
 * known place of the machine.
 */
export function toolPath(name: string): string {
  const local = path.join(toolsBin(), name);
  if (executable(local)) return local;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && executable(path.join(dir, name))) return path.join(dir, name);
  }
  for (const file of FALLBACKS[name] ?? []) if (executable(file)) return file;
  throw new MissingToolError(
    `${name} is missing (not in .tools/bin nor on PATH): run \`${INSTALL_COMMAND}\`, which installs the Debian packages and builds the engines pinned in tools/engines.tsv`,
  );
}
