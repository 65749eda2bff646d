/**
 * The generated client is current: the types regenerated from the checked-in document are exactly
 * the checked-in src/schema.ts. (That the document is the running gateway's is checked by the e2e
 * suite, tests/e2e/contract.test.ts.)
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { readDocument, renderTypes, SCHEMA } from './codegen.js';

test('src/schema.ts is what openapi-typescript makes of openapi.json (run `npm run api:generate`)', async () => {
  const expected = await renderTypes(await readDocument());
  const actual = await fs.readFile(SCHEMA, 'utf8');
  assert.ok(actual === expected, 'src/schema.ts is stale or edited by hand: run `npm run api:generate`');
});

test('every operation of the document has an operationId, a summary and one tag', async () => {
  const doc = (await readDocument()) as { paths: Record<string, Record<string, Record<string, unknown>>> };
  const ops = Object.entries(doc.paths).flatMap(([p, item]) =>
    Object.entries(item).map(([m, op]) => ({ at: `${m} ${p}`, op })),
  );
  assert.ok(ops.length >= 15, `${ops.length} operations`);
  for (const { at, op } of ops) {
    assert.match(String(op.operationId), /^[a-z][A-Za-z]+$/, at);
    assert.ok(op.summary, at);
    assert.equal((op.tags as string[]).length, 1, at);
  }
});

test('every operation has a kill-switch flag and documents its 503 FEATURE_DISABLED answer', async () => {
  const doc = (await readDocument()) as {
    paths: Record<
      string,
      Record<string, { 'x-feature-flag'?: string; responses: Record<string, { description: string }> }>
    >;
  };
  for (const [p, item] of Object.entries(doc.paths))
    for (const [m, op] of Object.entries(item)) {
      const flag = op['x-feature-flag'];
      assert.ok(flag, `${m} ${p} has x-feature-flag`);
      assert.ok(
        op.responses['503']?.description.includes(
          `FEATURE_DISABLED: the operation is switched off (feature flag ${flag})`,
        ),
        `${m} ${p}: 503 documents FEATURE_DISABLED`,
      );
    }
});
