/**
 * The static guard against ImagePullBackOff, on the real overlays: every project image the
 * rendered manifests of dev, staging and production reference is one that
 * scripts/build-images.sh produces (name and tag scheme), and every built image is deployed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { type BuildList, checkRefs, imageRefs, splitRef } from '../../scripts/check-image-refs.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

for (const env of ['dev', 'staging', 'production']) {
  test(`${env}: rendered manifests reference only images the build produces`, () => {
    const dir = path.join(root, 'deploy', 'overlays', env);
    // The owner is set in one place: the overlay's kustomize `images:` entries.
    const kustomization = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as {
      images: { name: string; newName: string }[];
    };
    const owners = new Set(kustomization.images.map((i) => i.newName.split('/')[1]));
    assert.equal(owners.size, 1, `one owner per overlay, got ${[...owners].join(', ')}`);
    const owner = [...owners][0] as string;

    const list = JSON.parse(
      execFileSync(path.join(root, 'scripts', 'build-images.sh'), ['--list', '--json', '--owner', owner], {
        encoding: 'utf8',
      }),
    ) as BuildList;
    const rendered = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const refs = imageRefs(rendered);
    const { problems } = checkRefs(refs, list);
    assert.deepEqual(problems, []);

    const deployed = new Set(refs.map((r) => splitRef(r.ref).repository));
    for (const image of list.images)
      assert.ok(deployed.has(image.name), `${image.name} is deployed in ${env}`);
  });
}
