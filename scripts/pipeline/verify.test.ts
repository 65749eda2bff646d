/**
 * The image path of the signature gate, as the workflows use it (`cosign verify NAME@DIGEST`), on a
 * registry of this run (scripts/local-registry.sh, Debian's docker-registry on 127.0.0.1:19410):
 * two artifacts pushed with `cosign upload blob` (no image build needed for a digest to sign), one
 * signed with a key pair made here (no transparency log), then the verifier accepts exactly that
 * digest, and refuses the unsigned one and one signed with another key.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot, toolPath } from '@mdp/platform/tools';
import { cosignImageVerifier, run } from './verify.js';

const PORT = 19410;
const REPO = `127.0.0.1:${PORT}/mdp-example/api-gateway`;
const INSECURE = ['--allow-http-registry', '--allow-insecure-registry'];

let work: string;
let cosign: string;
let env: NodeJS.ProcessEnv;
const registry = (cmd: string) =>
  run('bash', [path.join(repoRoot(), 'scripts/local-registry.sh'), cmd, String(PORT)], {
    MDP_REGISTRY_DIR: path.join(work, 'registry'),
  });

async function upload(tag: string): Promise<string> {
  const file = path.join(work, tag);
  writeFileSync(file, randomBytes(64));
  const r = await run(cosign, ['upload', 'blob', '-f', file, `${REPO}:${tag}`], env);
  const digest = `${r.stdout}${r.stderr}`.match(/@(sha256:[0-9a-f]{64})/)?.[1];
  assert.ok(r.code === 0 && digest, `cosign upload blob: ${r.stderr}`);
  return digest;
}

async function sign(digest: string, key: string): Promise<void> {
  const r = await run(
    cosign,
    ['sign', '--key', key, '--tlog-upload=false', '--yes', ...INSECURE, `${REPO}@${digest}`],
    env,
  );
  assert.equal(r.code, 0, `cosign sign: ${r.stderr}`);
}

describe('cosign image verification (scripts/pipeline/verify.ts)', () => {
  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'mdp-verify-'));
    cosign = toolPath('cosign');
    env = { COSIGN_PASSWORD: randomBytes(12).toString('hex'), HOME: work, TUF_ROOT: path.join(work, 'tuf') };
    const started = await registry('start');
    assert.equal(started.code, 0, started.stderr);
    for (const prefix of ['trusted', 'other']) {
      const r = await run(cosign, ['generate-key-pair', '--output-key-prefix', path.join(work, prefix)], env);
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(async () => {
    if (!work) return;
    await registry('stop');
    rmSync(work, { recursive: true, force: true });
  });

  test('a digest signed with the trusted key verifies; unsigned and foreign-key digests do not', async () => {
    const [signed, unsigned, foreign] = [await upload('a'), await upload('b'), await upload('c')];
    await sign(signed, path.join(work, 'trusted.key'));
    await sign(foreign, path.join(work, 'other.key'));
    const trustedRoot = path.join(work, 'trusted-root.json');
    writeFileSync(
      trustedRoot,
      JSON.stringify({
        mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
        tlogs: [],
        certificateAuthorities: [],
        ctlogs: [],
        timestampAuthorities: [],
      }),
    );
    const verifier = cosignImageVerifier({
      cosign,
      key: path.join(work, 'trusted.pub'),
      extra: ['--insecure-ignore-tlog=true', '--offline=true', '--trusted-root', trustedRoot, ...INSECURE],
    });
    const ok = await verifier.verify(REPO, signed);
    assert.equal(ok.ok, true, ok.detail);
    const none = await verifier.verify(REPO, unsigned);
    assert.equal(none.ok, false);
    assert.match(none.detail, /no signatures found/);
    const other = await verifier.verify(REPO, foreign);
    assert.equal(other.ok, false, 'signed, but not with the trusted key');
    assert.throws(() => cosignImageVerifier({ cosign }), /needs --key or a certificate identity/);
  });
});
