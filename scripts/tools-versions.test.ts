/**
 * npm run tools:versions: every engine of tools/engines.tsv is installed (built by
 * scripts/install-tools.sh into .tools/bin) at the version its go.mod pins, and so are
 * Debian's Prometheus family and the machine's kubectl. A missing one fails here, naming the
 * install command.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function engines(): { engine: string; binaries: string[] }[] {
  return readFileSync(path.join(ROOT, 'tools/engines.tsv'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#') && !l.startsWith('engine\t'))
    .map((l) => {
      const [engine = '', , , binaries = ''] = l.split('\t');
      return { engine, binaries: binaries.split(' ').map((b) => b.split('=')[0] ?? '') };
    });
}

describe('tools:versions', () => {
  test('lists every engine and the Debian tools, installed, with a version', () => {
    const res = spawnSync('bash', [path.join(ROOT, 'scripts/tools-versions.sh')], { encoding: 'utf8' });
    assert.equal(res.status, 0, `${res.stdout}${res.stderr}\nrun: bash scripts/install-tools.sh`);
    const lines = new Map(
      res.stdout
        .trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .map(([name = '', version = '', file = '']) => [name, { version, file }]),
    );
    const names = [
      ...engines().flatMap((e) => e.binaries),
      'prometheus',
      'promtool',
      'alertmanager',
      'amtool',
      'kubectl',
    ];
    for (const n of names) {
      const line = lines.get(n);
      assert.ok(line, `${n} is not listed`);
      assert.match(line.version, /\d+\.\d+/, n);
      assert.ok(path.isAbsolute(line.file), `${n}: ${line.file}`);
    }
    assert.ok(engines().length >= 10);
  });

  test('the Kubernetes binaries report the pinned version', () => {
    const goMod = readFileSync(path.join(ROOT, 'tools/kubernetes/go.mod'), 'utf8');
    const pinned = /^\s*(?:require\s+)?k8s\.io\/kubernetes (v\S+)/m.exec(goMod)?.[1];
    assert.ok(pinned);
    const out = execFileSync(path.join(ROOT, '.tools/bin/kube-apiserver'), ['--version'], {
      encoding: 'utf8',
    });
    assert.equal(out.trim(), `Kubernetes ${pinned}`);
  });
});
