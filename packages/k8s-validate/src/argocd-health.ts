/**
 * What Argo CD shows as an object's health: Argo CD's own health check for the kind (the Lua
 * script it ships in resource_customizations/<group>/<kind>/health.lua), read from the pinned
 * Argo CD module (the same version whose CRDs the local cluster installs) and run on the object.
 * Argo CD runs these scripts in gopher-lua (Lua 5.1); here they run in Lua 5.4 (wasmoon), with
 * Lua 5.1's table.getn (the length of a sequence) defined, which the Rollout script calls.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CRD_SOURCES, versionOf } from '@mdp/cluster/crds';
import { moduleDir } from '@mdp/cluster/tools';
import { LuaFactory } from 'wasmoon';
import type { Resource } from './resources.js';

export interface Health {
  status: string;
  message?: string;
}

const ARGO_CD = CRD_SOURCES.find((s) => s.name === 'Argo CD');

/** The health script Argo CD ships for apiVersion/kind, or undefined when it has none. */
export async function healthScript(apiVersion: string, kind: string): Promise<string | undefined> {
  if (!ARGO_CD) throw new Error('CRD_SOURCES has no Argo CD entry');
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
  const dir = await moduleDir(ARGO_CD.module, versionOf(ARGO_CD));
  const file = path.join(dir, 'resource_customizations', group ?? '', kind, 'health.lua');
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

export async function argoCdHealth(obj: Resource): Promise<Health> {
  const script = await healthScript(obj.apiVersion, obj.kind);
  if (!script) throw new Error(`Argo CD ships no health check for ${obj.apiVersion} ${obj.kind}`);
  const lua = await new LuaFactory().createEngine();
  try {
    // A JSON round trip: plain tables, no JS object proxies.
    lua.global.set('obj', JSON.parse(JSON.stringify(obj)));
    const out = (await lua.doString(
      `table.getn = table.getn or function(t) return #t end\nlocal function check()\n${script}\nend\nreturn check()`,
    )) as Health | undefined;
    if (!out?.status)
      throw new Error(`the health script returned no status for ${obj.kind}/${obj.metadata.name}`);
    return { status: out.status, message: out.message };
  } finally {
    lua.global.close();
  }
}
