/**
 * Where the engines are: the binaries that scripts/install-tools.sh builds from the pinned Go
 * modules of tools/ and links into <repo>/.tools/bin, and the machine's own kubectl, openssl
 * and go. A missing one is an error that names the install command, never a silent skip.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '@mdp/platform/paths';

export const REPO_ROOT = path.resolve(packageRoot(import.meta.url), '../..');
export const INSTALL_COMMAND = 'bash scripts/install-tools.sh';
/** Where install-tools links the engines (MDP_TOOLS_BIN overrides it). */
export const TOOLS_BIN = process.env.MDP_TOOLS_BIN ?? path.join(REPO_ROOT, '.tools/bin');

export class MissingToolError extends Error {
  override name = 'MissingToolError';
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of an engine built by install-tools (kube-apiserver, etcd, kwok, ...). */
export function engine(name: string): string {
  const file = path.join(TOOLS_BIN, name);
  if (!executable(file)) {
    throw new MissingToolError(
      `${name} is not installed (${file} is missing): run \`${INSTALL_COMMAND}\`, which builds the engines pinned in tools/engines.tsv`,
    );
  }
  return file;
}

const SYSTEM_FALLBACKS: Record<string, string[]> = { go: ['/usr/local/go/bin/go'] };

/** Absolute path of a program of the machine (kubectl, openssl, go). */
export function systemTool(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && executable(path.join(dir, name))) return path.join(dir, name);
  }
  for (const file of SYSTEM_FALLBACKS[name] ?? []) if (executable(file)) return file;
  throw new MissingToolError(`${name} is not on this machine: run \`${INSTALL_COMMAND}\``);
}

/** The version of `module` that a go.mod under tools/ requires (the one place it is pinned). */
export function pinnedVersion(toolsDir: string, module: string): string {
  const file = path.join(REPO_ROOT, 'tools', toolsDir, 'go.mod');
  const text = readFileSync(file, 'utf8');
  const escaped = module.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, 'm').exec(text);
  if (!m?.[1]) throw new Error(`${file} does not require ${module}`);
  return m[1];
}

const run = promisify(execFile);
const moduleDirs = new Map<string, Promise<string>>();

/**
 * The directory of MODULE@VERSION in the Go module cache (`go mod download -json` fetches it
 * through the Go module proxy the first time and checks its sum).
 */
export function moduleDir(module: string, version: string): Promise<string> {
  const key = `${module}@${version}`;
  let dir = moduleDirs.get(key);
  if (!dir) {
    dir = (async () => {
      const { stdout } = await run(systemTool('go'), ['mod', 'download', '-json', key], {
        // Outside any go.mod, so only this module is resolved.
        cwd: '/',
        env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' },
        maxBuffer: 4 * 1024 * 1024,
        timeout: 300_000,
      }).catch((err: { stdout?: string; message: string }) => ({ stdout: err.stdout ?? '', err }));
      const info = JSON.parse(stdout || '{}') as { Dir?: string; Error?: string };
      if (!info.Dir || !existsSync(info.Dir))
        throw new Error(`go mod download ${key}: ${info.Error ?? 'no directory'}`);
      return info.Dir;
    })();
    moduleDirs.set(key, dir);
  }
  return dir;
}
