/**
 * A ConfigMap mounted as a directory (not subPath) is updated by the kubelet's atomic writer:
 * the files live in a timestamped directory `..<timestamp>`, `..data` is a symlink to it, and each
 * key is a symlink `flags.json -> ..data/flags.json`. An update writes a new timestamped directory,
 * points a new symlink `..data_tmp` at it, renames `..data_tmp` over `..data` (one atomic
 * rename(2)) and deletes the old directory (kubernetes pkg/volume/util/atomic_writer.go). This test
 * does exactly that on disk and checks the file provider follows every swap.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { initFlags } from '../src/flags.js';
import { Metrics } from '../src/metrics.js';
import { memoryLogger } from '../src/test-support.js';
import { eventually, uniqueName } from '../src/testing.js';

const flags = (variant: string) =>
  JSON.stringify({
    flags: { 'demo.op': { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: variant } },
  });

let n = 0;
/** One kubelet AtomicWriter.Write of the payload {flags.json}. */
async function kubeletWrite(dir: string, text: string): Promise<void> {
  const ts = `..${new Date().toISOString().replace(/[-:.TZ]/g, '_')}${n++}`;
  await mkdir(path.join(dir, ts));
  await writeFile(path.join(dir, ts, 'flags.json'), text);
  let old: string | undefined;
  try {
    old = await readlink(path.join(dir, '..data'));
  } catch {}
  await symlink(ts, path.join(dir, '..data_tmp'));
  await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  // The user-visible key: created once, pointing through ..data.
  if (!old) await symlink(path.join('..data', 'flags.json'), path.join(dir, 'flags.json'));
  if (old) await rm(path.join(dir, old), { recursive: true, force: true });
}

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mdp-configmap-'));
});
after(async () => rm(dir, { recursive: true, force: true }));

test('the flagd file provider follows the kubelet ..data symlink swap of a ConfigMap volume', async () => {
  await kubeletWrite(dir, flags('on'));
  const { logger, lines } = memoryLogger();
  const metrics = new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false });
  const f = await initFlags(
    { FLAGS_PROVIDER: 'file', FLAGS_FILE: path.join(dir, 'flags.json'), FLAGS_POLL_MS: 100 },
    { logger, metrics, domain: uniqueName('cm') },
  );
  try {
    assert.equal(await f.boolean('demo.op', true), true);
    for (const [i, variant] of ['off', 'on', 'off'].entries()) {
      await kubeletWrite(dir, flags(variant));
      await eventually(
        async () => (await f.boolean('demo.op', !(variant === 'on'))) === (variant === 'on'),
        10_000,
      );
      assert.equal(lines().filter((l) => l.msg === 'feature flags reloaded').length, i + 1);
    }
    assert.ok(!lines().some((l) => l.msg === 'flag file unreadable; keeping the last good flags'));
  } finally {
    await f.close();
  }
});
