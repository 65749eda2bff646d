/**
 * Promotion against temporary Git repositories: a `git init` with a copy of deploy/ (and what its
 * overlays include), digests signed with a real cosign key pair made here. The signatures are
 * `cosign sign-blob` signatures of the digest strings (no registry, no transparency log: the key
 * alone, offline), verified with `cosign verify-blob` through the same
 * `Verifier` interface the workflows use with `cosign verify IMAGE@DIGEST`. The render check runs
 * the real `kubectl kustomize`. cosign is .tools/bin/cosign (scripts/install-tools.sh): missing fails.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot, toolPath } from '@mdp/platform/tools';
import { type BuildList, checkRefs, imageRefs } from '../check-image-refs.js';
import { overlayDir, readImages, renderedImages } from './overlay.js';
import {
  currentDigests,
  type DigestsFile,
  PromotionRefused,
  parseDigests,
  promote,
  recordVerification,
  rollbackPromotion,
} from './promote.js';
import { readRecords } from './records.js';
import { cosignBlobVerifier, run, signedPayload, type Verifier } from './verify.js';

const ROOT = repoRoot();
const SERVICES = ['api-gateway', 'user-service', 'product-service', 'order-service', 'notification-service'];
const GIT_ENV = {
  GIT_AUTHOR_NAME: 'pipeline test',
  GIT_AUTHOR_EMAIL: 'pipeline@test.invalid',
  GIT_COMMITTER_NAME: 'pipeline test',
  GIT_COMMITTER_EMAIL: 'pipeline@test.invalid',
};

const digestOf = () => `sha256:${randomBytes(32).toString('hex')}`;

let work: string;
let cosign: string;
let verifier: Verifier;
let cosignEnv: NodeJS.ProcessEnv;
let key: string;
let otherKey: string;
let signatures: string;

async function sign(digest: string, withKey = key): Promise<void> {
  const payload = path.join(work, 'payload');
  writeFileSync(payload, signedPayload(digest));
  const r = await run(
    cosign,
    [
      'sign-blob',
      '--key',
      withKey,
      '--tlog-upload=false',
      '--yes',
      '--output-signature',
      path.join(signatures, `${digest.slice('sha256:'.length)}.sig`),
      payload,
    ],
    cosignEnv,
  );
  assert.equal(r.code, 0, `cosign sign-blob: ${r.stderr}`);
}

/** A release: one digest per service, all signed with the trusted key unless said otherwise. */
async function release(commit: string, unsigned: string[] = []): Promise<DigestsFile> {
  const owner = readImages(ROOT, 'staging')[0]?.newName?.split('/')[1];
  const images = SERVICES.map((service) => ({
    service,
    name: `ghcr.io/${owner}/${service}`,
    digest: digestOf(),
  }));
  for (const i of images) if (!unsigned.includes(i.service)) await sign(i.digest);
  return { commit, committedAt: '2026-12-01T10:00:00Z', runId: '100', images };
}

function gitRepo(): string {
  const dir = mkdtempSync(path.join(work, 'gitops-'));
  for (const d of ['deploy', 'databases', 'config', 'deployment-strategies', 'monitoring'])
    if (existsSync(path.join(ROOT, d))) cpSync(path.join(ROOT, d), path.join(dir, d), { recursive: true });
  rmSync(path.join(dir, 'deploy', 'promotions'), { recursive: true, force: true });
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: dir, env: { ...process.env, ...GIT_ENV } });
  git('init', '--quiet', '--initial-branch=main');
  git('add', '.');
  git('commit', '--quiet', '-m', 'initial');
  return dir;
}

const log = (dir: string) =>
  execFileSync('git', ['log', '--format=%s', 'main'], { cwd: dir, encoding: 'utf8' }).trim().split('\n');
const clean = (dir: string) =>
  execFileSync('git', ['status', '--porcelain'], { cwd: dir, encoding: 'utf8' }).trim() === '';
const ctx = (root: string, runId: string, at: string) => ({
  root,
  runId,
  actor: 'tester',
  now: () => new Date(at),
});

describe('promotion (scripts/pipeline/promote.ts)', () => {
  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'mdp-promote-'));
    Object.assign(process.env, GIT_ENV);
    cosign = toolPath('cosign');
    cosignEnv = {
      COSIGN_PASSWORD: randomBytes(12).toString('hex'),
      HOME: work,
      TUF_ROOT: path.join(work, 'tuf'),
    };
    for (const prefix of ['trusted', 'other']) {
      const r = await run(
        cosign,
        ['generate-key-pair', '--output-key-prefix', path.join(work, prefix)],
        cosignEnv,
      );
      assert.equal(r.code, 0, r.stderr);
    }
    key = path.join(work, 'trusted.key');
    otherKey = path.join(work, 'other.key');
    signatures = path.join(work, 'signatures');
    mkdirSync(signatures);
    verifier = cosignBlobVerifier({
      cosign,
      key: path.join(work, 'trusted.pub'),
      signatures,
      env: cosignEnv,
    });
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('staging: the digests land in the overlay, the render, a record and one commit', async () => {
    const repo = gitRepo();
    const rel = await release('a1b2c3d4e5f60718293a4b5c6d7e8f9012345678');
    const record = await promote({
      ...ctx(repo, '201', '2026-12-01T11:00:00Z'),
      env: 'staging',
      digests: rel,
      verifier,
    });
    assert.ok(record);
    assert.equal(record.from, 'build');
    assert.equal(record.commit, rel.commit);
    assert.equal(record.at, '2026-12-01T11:00:00.000Z');
    assert.deepEqual(
      Object.values(record.previous),
      SERVICES.map(() => null),
      'tags only before',
    );
    for (const i of rel.images) {
      assert.equal(readImages(repo, 'staging').find((e) => e.name === i.service)?.digest, i.digest);
      const running = renderedImages(repo, 'staging').filter((r) => r.image.includes(`/${i.service}:`));
      assert.ok(running.length >= 1, `${i.service} runs somewhere`);
      for (const r of running) assert.equal(r.image, `${i.name}:staging@${i.digest}`, r.workload);
    }
    // The promoted render still passes the static image-reference guard (tag scheme, our images).
    const list = JSON.parse(
      execFileSync(
        path.join(ROOT, 'scripts/build-images.sh'),
        ['--list', '--json', '--owner', 'mdp-example'],
        {
          encoding: 'utf8',
        },
      ),
    ) as BuildList;
    const render = execFileSync('kubectl', ['kustomize', overlayDir(repo, 'staging')], { encoding: 'utf8' });
    assert.deepEqual(checkRefs(imageRefs(render), list).problems, []);
    assert.deepEqual(log(repo), ['Promote a1b2c3d to staging', 'initial']);
    assert.ok(clean(repo), 'the overlay and the record are committed');
    const body = execFileSync('git', ['log', '-1', '--format=%B'], { cwd: repo, encoding: 'utf8' });
    assert.match(body, new RegExp(`Promotion-Id: ${record.id}`));
    assert.deepEqual(readRecords(repo, 'staging'), [record]);
    // The same digests again: nothing to do, no commit.
    assert.equal(
      await promote({ ...ctx(repo, '202', '2026-12-01T11:05:00Z'), env: 'staging', digests: rel, verifier }),
      null,
    );
    assert.equal(log(repo).length, 2);
  });

  test('production refuses digests that did not pass staging, then takes them once verified', async () => {
    const repo = gitRepo();
    const rel = await release('b1b2c3d4e5f60718293a4b5c6d7e8f9012345678');
    const refused = promote({
      ...ctx(repo, '301', '2026-12-02T09:00:00Z'),
      env: 'production',
      digests: rel,
      verifier,
    });
    await assert.rejects(refused, (err: unknown) => {
      assert.ok(err instanceof PromotionRefused);
      assert.equal(err.reasons.length, SERVICES.length);
      assert.match(err.reasons[0] ?? '', /did not pass staging/);
      return true;
    });
    await promote({ ...ctx(repo, '302', '2026-12-02T09:10:00Z'), env: 'staging', digests: rel, verifier });
    // Promoted to staging but not verified yet: still refused.
    await assert.rejects(
      promote({ ...ctx(repo, '303', '2026-12-02T09:20:00Z'), env: 'production', digests: rel, verifier }),
      PromotionRefused,
    );
    recordVerification({
      ...ctx(repo, '302', '2026-12-02T09:30:00Z'),
      env: 'staging',
      outcome: 'pass',
      checks: ['smoke'],
    });
    const next = currentDigests(repo, 'staging');
    assert.deepEqual(next.images, rel.images);
    const record = await promote({
      ...ctx(repo, '304', '2026-12-02T10:00:00Z'),
      env: 'production',
      digests: next,
      verifier,
    });
    assert.equal(record?.from, 'staging');
    for (const r of renderedImages(repo, 'production').filter((x) => x.image.includes('/api-gateway:')))
      assert.match(r.image, new RegExp(`:0\\.1\\.0@${rel.images[0]?.digest}$`));
    assert.deepEqual(log(repo).slice(0, 3), [
      'Promote b1b2c3d to production',
      `Verification of ${readRecords(repo, 'staging').find((r) => r.kind === 'verification')?.promotion}: pass`,
      'Promote b1b2c3d to staging',
    ]);
    // One digest of a release that staging did not verify: refused, naming only that one.
    const mixed = {
      ...next,
      images: next.images.map((i, n) => (n === 1 ? { ...i, digest: digestOf() } : i)),
    };
    await sign(mixed.images[1]?.digest ?? '');
    await assert.rejects(
      promote({ ...ctx(repo, '305', '2026-12-02T11:00:00Z'), env: 'production', digests: mixed, verifier }),
      (err: PromotionRefused) =>
        err.reasons.length === 1 && /user-service@.*did not pass staging/.test(err.reasons[0] ?? ''),
    );
  });

  test('a digest whose signature does not verify is refused and nothing is written', async () => {
    const repo = gitRepo();
    const before = readFileSync(path.join(repo, 'deploy/overlays/staging/kustomization.yaml'), 'utf8');
    const unsigned = await release('c1b2c3d4e5f60718293a4b5c6d7e8f9012345678', ['order-service']);
    await assert.rejects(
      promote({ ...ctx(repo, '401', '2026-12-03T09:00:00Z'), env: 'staging', digests: unsigned, verifier }),
      (err: PromotionRefused) =>
        err.reasons.length === 1 &&
        /order-service@.*signature does not verify \(no signature/.test(err.reasons[0] ?? ''),
    );
    // Signed, but with a key the verifier does not trust.
    const foreign = await release('d1b2c3d4e5f60718293a4b5c6d7e8f9012345678', ['product-service']);
    const product = foreign.images.find((i) => i.service === 'product-service');
    await sign(product?.digest ?? '', otherKey);
    await assert.rejects(
      promote({ ...ctx(repo, '402', '2026-12-03T09:10:00Z'), env: 'staging', digests: foreign, verifier }),
      (err: PromotionRefused) =>
        err.reasons.length === 1 && /product-service@.*signature does not verify/.test(err.reasons[0] ?? ''),
    );
    // Another digest's valid signature under this digest's name.
    const swapped = await release('e1b2c3d4e5f60718293a4b5c6d7e8f9012345678');
    const [a, b] = swapped.images;
    cpSync(
      path.join(signatures, `${a?.digest.slice(7)}.sig`),
      path.join(signatures, `${b?.digest.slice(7)}.sig`),
    );
    await assert.rejects(
      promote({ ...ctx(repo, '403', '2026-12-03T09:20:00Z'), env: 'staging', digests: swapped, verifier }),
      (err: PromotionRefused) =>
        err.reasons.length === 1 && err.reasons[0]?.startsWith(`${b?.service}@`) === true,
    );
    assert.equal(readFileSync(path.join(repo, 'deploy/overlays/staging/kustomization.yaml'), 'utf8'), before);
    assert.deepEqual(log(repo), ['initial']);
    assert.ok(clean(repo));
  });

  test('rollback reverts the last promotion commit, keeps the records, and refuses the rolled-back digests downstream', async () => {
    const repo = gitRepo();
    const good = await release('f1b2c3d4e5f60718293a4b5c6d7e8f9012345678');
    const bad = await release('0a1b2c3d4e5f60718293a4b5c6d7e8f901234567');
    await promote({ ...ctx(repo, '501', '2026-12-04T09:00:00Z'), env: 'staging', digests: good, verifier });
    const p2 = await promote({
      ...ctx(repo, '502', '2026-12-04T10:00:00Z'),
      env: 'staging',
      digests: bad,
      verifier,
    });
    recordVerification({
      ...ctx(repo, '502', '2026-12-04T10:05:00Z'),
      env: 'staging',
      outcome: 'pass',
      checks: [],
    });
    const rb = rollbackPromotion({
      ...ctx(repo, '503', '2026-12-04T10:20:00Z'),
      env: 'staging',
      reason: 'error rate',
    });
    assert.equal(rb.promotion, p2?.id);
    assert.deepEqual(
      rb.restored,
      Object.fromEntries(good.images.map((i) => [i.service, i.digest])),
      'the previous digests',
    );
    for (const i of good.images)
      assert.equal(readImages(repo, 'staging').find((e) => e.name === i.service)?.digest, i.digest);
    for (const r of renderedImages(repo, 'staging').filter((x) => x.image.includes('/user-service:')))
      assert.ok(r.image.endsWith(good.images[1]?.digest ?? '-'), r.image);
    assert.equal(log(repo)[0], `Revert promotion ${p2?.id} in staging`);
    assert.ok(clean(repo));
    assert.deepEqual(
      readRecords(repo, 'staging').map((r) => r.kind),
      ['promotion', 'promotion', 'verification', 'rollback'],
    );
    // The rolled-back release passed its verification, but is no longer good for production.
    await assert.rejects(
      promote({ ...ctx(repo, '504', '2026-12-04T11:00:00Z'), env: 'production', digests: bad, verifier }),
      PromotionRefused,
    );
    // A second rollback reverts the promotion before: the overlay is back to tags only.
    rollbackPromotion({ ...ctx(repo, '505', '2026-12-04T11:10:00Z'), env: 'staging', reason: 'drill' });
    assert.deepEqual(
      readImages(repo, 'staging').map((e) => e.digest),
      SERVICES.map(() => undefined),
    );
    assert.equal(
      readFileSync(path.join(repo, 'deploy/overlays/staging/kustomization.yaml'), 'utf8'),
      readFileSync(path.join(ROOT, 'deploy/overlays/staging/kustomization.yaml'), 'utf8'),
    );
    assert.throws(
      () => rollbackPromotion({ ...ctx(repo, '506', '2026-12-04T11:20:00Z'), env: 'staging', reason: 'x' }),
      /no promotion in staging to roll back/,
    );
  });

  test('the command line: npm run promote / rollback:promotion exit 0, 1 on refusal, 2 on usage', async () => {
    const repo = gitRepo();
    const rel = await release('1a1b2c3d4e5f60718293a4b5c6d7e8f901234567');
    const file = path.join(work, 'digests.json');
    writeFileSync(file, JSON.stringify(rel));
    assert.deepEqual(parseDigests(readFileSync(file, 'utf8')), rel);
    const cli = (script: string, args: string[]) =>
      spawnSync('npm', ['run', '--silent', script, '--', ...args], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, ...cosignEnv, GITHUB_RUN_ID: '601' },
      });
    const common = ['--repo', repo, '--key', path.join(work, 'trusted.pub'), '--signatures', signatures];
    const refused = cli('promote', ['--env', 'production', '--digests', file, ...common]);
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(refused.stderr, /did not pass staging/);
    const ok = cli('promote', ['--env', 'staging', '--digests', file, ...common]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).runId, '601');
    assert.equal(cli('promote', ['--digests', file]).status, 2, 'no --env');
    const back = cli('rollback:promotion', ['--env', 'staging', '--repo', repo, '--reason', 'cli']);
    assert.equal(back.status, 0, back.stderr);
    assert.equal(JSON.parse(back.stdout).reason, 'cli');
    assert.equal(log(repo).length, 3);
  });
});
