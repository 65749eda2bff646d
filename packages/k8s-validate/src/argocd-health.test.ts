import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CRD_SOURCES, versionOf } from '@mdp/cluster/crds';
import { moduleDir } from '@mdp/cluster/tools';
import { parse } from 'yaml';
import { argoCdHealth } from './argocd-health.js';
import type { Resource } from './resources.js';

// The runner reproduces Argo CD: every case of Argo CD's own test table for the Rollout health
// check (resource_customizations/argoproj.io/Rollout/health_test.yaml) gives its status and message.
test("Argo CD's Rollout health check: Argo CD's own cases", async () => {
  const argo = CRD_SOURCES.find((s) => s.name === 'Argo CD');
  assert.ok(argo);
  const dir = path.join(
    await moduleDir(argo.module, versionOf(argo)),
    'resource_customizations/argoproj.io/Rollout',
  );
  const table = parse(readFileSync(path.join(dir, 'health_test.yaml'), 'utf8')) as {
    tests: { healthStatus: { status: string; message?: string }; inputPath: string }[];
  };
  assert.ok(table.tests.length >= 20);
  for (const c of table.tests) {
    const obj = parse(readFileSync(path.join(dir, c.inputPath), 'utf8')) as Resource;
    const got = await argoCdHealth(obj);
    assert.equal(got.status, c.healthStatus.status, c.inputPath);
    assert.equal(got.message ?? '', c.healthStatus.message ?? '', c.inputPath);
  }
});
