/**
 * The cluster's view of the engines (the lookup itself is @mdp/platform/tools) and of the Go
 * modules they are pinned by: versions from tools/<dir>/go.mod, module folders in Go's cache.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '@mdp/platform/paths';
import { INSTALL_COMMAND, MissingToolError, toolPath, toolsBin } from '@mdp/platform/tools';

export { INSTALL_COMMAND, MissingToolError };
export const REPO_ROOT = path.resolve(packageRoot(import.meta.url), '../..');
/** Where install-tools links the engines (MDP_TOOLS_BIN overrides it). */
export const TOOLS_BIN = toolsBin();

/** Absolute path of an engine built by install-tools (kube-apiserver, etcd, kwok, ...). */
export const engine = toolPath;

/** Absolute path of a program of the machine (kubectl, openssl, go). */
export const systemTool = toolPath;

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
