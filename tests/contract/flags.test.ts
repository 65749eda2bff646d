/**
 * Contract: "A flag that the code evaluates must exist in the shipped flag file, and a flag in
 * the file must be used by code." Each service declares the flags it evaluates in
 * src/flags.ts (`export const FLAGS = { 'area.name': { type, default, description } }`).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MemoryStorage } from '@openfeature/flagd-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FLAG_FILE = path.join(root, 'config', 'flags', 'flags.json');
const KEY = /^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*$/;

interface Declared {
  service: string;
  key: string;
  type: 'number' | 'boolean' | 'string';
  default: unknown;
}

async function declaredFlags(): Promise<Declared[]> {
  const out: Declared[] = [];
  for (const service of readdirSync(path.join(root, 'services'))) {
    const file = path.join(root, 'services', service, 'src', 'flags.ts');
    if (!existsSync(file)) continue;
    const mod = (await import(pathToFileURL(file).href)) as {
      FLAGS?: Record<string, { type: Declared['type']; default: unknown }>;
    };
    assert.ok(mod.FLAGS, `${service}/src/flags.ts exports FLAGS`);
    for (const [key, def] of Object.entries(mod.FLAGS))
      out.push({ service, key, type: def.type, default: def.default });
  }
  return out;
}

function sourceFiles(dir: string, acc: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) sourceFiles(full, acc);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) acc.push(full);
  }
  return acc;
}

const fileFlags = () =>
  (
    JSON.parse(readFileSync(FLAG_FILE, 'utf8')) as {
      flags: Record<string, { variants: Record<string, unknown> }>;
    }
  ).flags;

test('the shipped flag file is valid flagd (strict schema)', () => {
  const storage = new MemoryStorage(console as never);
  assert.doesNotThrow(() => storage.setConfigurations(readFileSync(FLAG_FILE, 'utf8'), true));
});

test('every declared flag is in the flag file with variants of its type, and every file flag is declared', async () => {
  const declared = await declaredFlags();
  const inFile = fileFlags();
  for (const d of declared) {
    assert.match(d.key, KEY, `${d.service}: flag key ${d.key} follows area.name`);
    assert.equal(typeof d.default, d.type, `${d.service}: ${d.key} default has its declared type`);
    const f = inFile[d.key];
    assert.ok(f, `${d.service} evaluates ${d.key}, which config/flags/flags.json lacks`);
    for (const [variant, value] of Object.entries(f.variants))
      assert.equal(typeof value, d.type, `${d.key} variant ${variant} is a ${d.type}`);
  }
  for (const key of Object.keys(inFile))
    assert.ok(
      declared.some((d) => d.key === key),
      `config/flags/flags.json has ${key}, which no service declares in src/flags.ts`,
    );
});

test('code evaluates only declared flags, route kill switches included (no undeclared literal flag keys)', async () => {
  const declared = new Set((await declaredFlags()).map((d) => d.key));
  // Evaluations in code, and kill switches declared on routes / gateway rules (`featureFlag: '…'`).
  const call = /(?:\bflags\.(?:number|boolean|string)\(\s*|\bfeatureFlag:\s*)['"]([^'"]+)['"]/g;
  for (const service of readdirSync(path.join(root, 'services'))) {
    const src = path.join(root, 'services', service, 'src');
    if (!existsSync(src)) continue;
    for (const file of sourceFiles(src)) {
      for (const m of readFileSync(file, 'utf8').matchAll(call)) {
        assert.ok(
          declared.has(m[1] as string),
          `${path.relative(root, file)} evaluates undeclared flag ${m[1]}`,
        );
      }
    }
  }
});
