import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BuildList, checkRefs, imageRefs, splitRef } from './check-image-refs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const list = JSON.parse(
  execFileSync(path.join(ROOT, 'scripts/build-images.sh'), ['--list', '--json', '--owner', 'acme'], {
    encoding: 'utf8',
  }),
) as BuildList;

const rendered = `
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: { name: order-service }
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: ghcr.io/acme/order-service:sha-0123abc
      containers:
        - name: app
          image: ghcr.io/acme/order-service:1.4.2
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: postgres }
spec:
  template:
    spec:
      containers:
        - name: db
          image: docker.io/library/postgres:15.8
---
apiVersion: v1
kind: ConfigMap
metadata: { name: not-a-pod }
data:
  image: ghcr.io/acme/ignored:latest
`;

describe('check-image-refs', () => {
  it('finds container images (init containers too), not other `image` keys', () => {
    assert.deepEqual(
      imageRefs(rendered).map((r) => `${r.where} ${r.ref}`),
      [
        'Rollout/order-service ghcr.io/acme/order-service:sha-0123abc',
        'Rollout/order-service ghcr.io/acme/order-service:1.4.2',
        'StatefulSet/postgres docker.io/library/postgres:15.8',
      ],
    );
  });

  it('splits references with a registry port, a tag and a digest', () => {
    assert.deepEqual(splitRef('127.0.0.1:5000/a/b:dev'), {
      repository: '127.0.0.1:5000/a/b',
      tag: 'dev',
      digest: '',
    });
    assert.deepEqual(splitRef('ghcr.io/a/b@sha256:00'), {
      repository: 'ghcr.io/a/b',
      tag: '',
      digest: 'sha256:00',
    });
  });

  it('accepts what the build produces and lists third-party images apart', () => {
    const r = checkRefs(imageRefs(rendered), list);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.external, ['StatefulSet/postgres: docker.io/library/postgres:15.8']);
  });

  it('rejects an unknown name, a wrong owner, latest, a v-prefixed or missing tag', () => {
    const refs = [
      'ghcr.io/acme/orders:dev',
      'ghcr.io/someone/order-service:dev',
      'ghcr.io/acme/user-service:latest',
      'ghcr.io/acme/user-service:v1.4.2',
      'ghcr.io/acme/user-service',
      'ghcr.io/acme/api-gateway:sha-0123ab',
    ].map((ref) => ({ ref, where: 'Deployment/x' }));
    const r = checkRefs(refs, list);
    assert.equal(r.problems.length, refs.length, r.problems.join('\n'));
  });

  it('the command fails on a bad reference and passes on good ones', () => {
    const cli = (input: string) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'scripts/check-image-refs.ts', '--owner', 'acme'], {
        cwd: ROOT,
        input,
        encoding: 'utf8',
      });
    const good = cli(rendered);
    assert.equal(good.status, 0, good.stderr);
    assert.match(good.stdout, /2 project image reference\(s\) OK/);
    const bad = cli(rendered.replace('1.4.2', 'latest'));
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /tag 'latest'/);
  });
});
