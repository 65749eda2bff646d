/**
 * The layering rule `npm run check` enforces (biome.json, override for services/*\/src/domain/**):
 * a domain imports neither Fastify, nor an adapter, nor the kit's HTTP and error modules. Shown by
 * running the repository's own Biome configuration on probe files in a scratch tree: each
 * forbidden import fails, the same file outside domain/ passes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIOME = path.join(ROOT, 'node_modules/.bin/biome');

const FORBIDDEN = [
  "import type { FastifyRequest } from 'fastify';",
  "import cors from '@fastify/cors';",
  "import { createHttpApp } from '@mdp/platform/http';",
  "import { AppError } from '@mdp/platform/errors';",
  "import { PostgresOrderStore } from '../adapters/postgres.js';",
];
const ALLOWED = [
  "import type { Logger } from '@mdp/platform/logger';",
  "import type { EventData } from '@mdp/contracts/events';",
  "import { newOrder } from './order.js';",
];

/** Biome with the repository's biome.json on `files` (relative path → content); the diagnostics by file. */
function lint(files: Record<string, string>): { code: number | null; byFile: Record<string, number> } {
  const dir = mkdtempSync(path.join(tmpdir(), 'layering-'));
  try {
    copyFileSync(path.join(ROOT, 'biome.json'), path.join(dir, 'biome.json'));
    for (const [file, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      writeFileSync(path.join(dir, file), content);
    }
    const r = spawnSync(BIOME, ['lint', '--vcs-enabled=false', '--only=style/noRestrictedImports', '.'], {
      cwd: dir,
      encoding: 'utf8',
    });
    const byFile: Record<string, number> = {};
    for (const m of (r.stdout + r.stderr).matchAll(/^(\S+\.ts):\d+:\d+ lint\/style\/noRestrictedImports/gm))
      byFile[m[1] as string] = (byFile[m[1] as string] ?? 0) + 1;
    return { code: r.status, byFile };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('layering: services/*/src/domain imports no Fastify, adapter, kit HTTP or errors module', () => {
  it('each forbidden import in a domain fails the lint; outside domain/ the same imports pass', () => {
    const files: Record<string, string> = {};
    FORBIDDEN.forEach((line, i) => {
      files[`services/some-service/src/domain/bad${i}.ts`] = `${line}\nexport const used = 1;\n`;
      files[`services/some-service/src/routes/fine${i}.ts`] = `${line}\nexport const used = 1;\n`;
    });
    const { code, byFile } = lint(files);
    assert.notEqual(code, 0, 'the violation fails the check');
    FORBIDDEN.forEach((line, i) => {
      assert.equal(byFile[`services/some-service/src/domain/bad${i}.ts`], 1, `refused in a domain: ${line}`);
      assert.equal(
        byFile[`services/some-service/src/routes/fine${i}.ts`],
        undefined,
        `allowed in routes: ${line}`,
      );
    });
  });

  it('what a domain may import passes', () => {
    const { code, byFile } = lint({
      'services/some-service/src/domain/good.ts': `${ALLOWED.join('\n')}\nexport const used = 1;\n`,
    });
    assert.deepEqual(byFile, {});
    assert.equal(code, 0);
  });

  it('the domains of this repository pass', () => {
    const r = spawnSync(BIOME, ['lint', '--only=style/noRestrictedImports', 'services'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});
