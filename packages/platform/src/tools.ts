/**
 * Where the project's engines are: the Go programs that scripts/install-tools.sh builds from pinned
 * module versions into `<repo>/.tools/bin` (git-ignored), with the PATH as a fallback. A missing
 * engine is an error naming the install script: tests that need one fail, they never skip.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder above this file that holds package-lock.json. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package-lock.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package-lock.json above ${import.meta.url}`);
    dir = parent;
  }
}

const executable = (file: string) => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The absolute path of engine `name`: `<repo>/.tools/bin/<name>`, else the first one on PATH. */
export function toolPath(name: string): string {
  const local = path.join(repoRoot(), '.tools', 'bin', name);
  if (executable(local)) return local;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && executable(path.join(dir, name))) return path.join(dir, name);
  }
  throw new Error(`${name} is missing (not in .tools/bin nor on PATH): run scripts/install-tools.sh`);
}
