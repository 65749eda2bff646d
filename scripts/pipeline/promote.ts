/**
 * GitOps promotion by digest (Argo CD syncs what is committed):
 *
 *   npm run promote -- --env staging|production --digests FILE [signature options]
 *       sets the digests of FILE (build-images' digests.json) in deploy/overlays/<env>, checks the
 *       render carries them, appends a promotion record to deploy/promotions/<env>.jsonl and commits
 *       both. Refused (exit 1, nothing written) when a digest did not pass the previous environment
 *       (production: a staging promotion with a passing verification, not rolled back) or when its
 *       cosign signature does not verify.
 *   npm run promote -- verify --env ENV --outcome pass|fail [--checks smoke,loadtest]
 *       records the post-deploy verification of the environment's current promotion, commits.
 *   npm run promote -- digests --env staging
 *       prints, as a digests file, what the environment's current promotion deployed (the input of a
 *       promotion to the next environment).
 *   npm run rollback:promotion -- --env ENV [--reason TEXT]
 *       reverts the overlay change of the environment's last promotion (the reverse of its commit's
 *       diff of the kustomization), appends a rollback record, commits.
 *
 * Signature options: --key cosign.pub (key pair) or --certificate-identity-regexp RE
 * [--certificate-oidc-issuer URL] (keyless, the CI case); --signatures DIR verifies `cosign
 * sign-blob` signatures of the digest strings (DIR/<hex>.sig) with --key instead of image
 * signatures in a registry (key only, offline); --trusted-root FILE for offline image verification. cosign is
 * .tools/bin/cosign, else the PATH.
 * Common: --repo DIR (the GitOps checkout; default the current directory), --run-id (default
 * $GITHUB_RUN_ID, else "local"), --actor (default $GITHUB_ACTOR, else $USER), --no-commit.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { toolPath } from '@mdp/platform/tools';
import { DIGEST, kustomizationFile, readImages, renderProblems, setDigests } from './overlay.js';
import {
  currentPromotion,
  type Environment,
  type Images,
  isEnvironment,
  type PipelineRecord,
  PREVIOUS,
  type PromotionRecord,
  passedPromotions,
  type RollbackRecord,
  readRecords,
  recordsFile,
  type VerificationRecord,
} from './records.js';
import { cosignBlobVerifier, cosignImageVerifier, type Verifier } from './verify.js';

/** build-images.yml's digests artifact (scripts/pipeline/merge-digests.sh writes it). */
export interface DigestsFile {
  commit: string;
  committedAt: string;
  runId?: string;
  images: { service: string; name: string; digest: string }[];
}

export class PromotionRefused extends Error {
  override name = 'PromotionRefused';
  constructor(readonly reasons: string[]) {
    super(`promotion refused:\n  ${reasons.join('\n  ')}`);
  }
}

export function parseDigests(text: string, source = 'digests'): DigestsFile {
  const d = JSON.parse(text) as Partial<DigestsFile>;
  const bad = (m: string): never => {
    throw new Error(`${source}: ${m}`);
  };
  if (typeof d.commit !== 'string' || !/^[0-9a-f]{7,40}$/.test(d.commit)) bad('no source "commit" (hex)');
  if (Number.isNaN(Date.parse(d.committedAt ?? ''))) bad('no valid "committedAt" time');
  if (!Array.isArray(d.images) || !d.images.length) bad('no "images"');
  for (const i of d.images ?? []) {
    if (!i || typeof i.service !== 'string' || typeof i.name !== 'string')
      bad('an image without service/name');
    if (!DIGEST.test(i.digest)) bad(`${i.service}: "${i.digest}" is not a sha256 digest`);
  }
  return d as DigestsFile;
}

export interface Context {
  /** The GitOps checkout (holds deploy/). */
  root: string;
  runId: string;
  actor: string;
  now?: () => Date;
  /** Commit the change (default true). */
  commit?: boolean;
}

const git = (root: string, args: string[], input?: string) =>
  execFileSync('git', args, { cwd: root, encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] }).trim();

function append(root: string, env: Environment, record: PipelineRecord): void {
  const file = recordsFile(root, env);
  mkdirSync(path.dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify(record)}\n`);
}

function commitChange(ctx: Context, env: Environment, subject: string, body: string[]): void {
  if (ctx.commit === false) return;
  const files = [
    path.relative(ctx.root, kustomizationFile(ctx.root, env)),
    path.relative(ctx.root, recordsFile(ctx.root, env)),
  ];
  git(ctx.root, ['add', '--', ...files]);
  git(ctx.root, ['commit', '--quiet', '-m', subject, ...body.flatMap((b) => ['-m', b]), '--', ...files]);
}

/** An id no record of the environment has yet (a second promotion of a commit in the same second: -2). */
function uniqueId(base: string, records: PipelineRecord[]): string {
  const taken = new Set(records.map((r) => (r.kind === 'promotion' ? r.id : '')));
  let id = base;
  for (let n = 2; taken.has(id); n++) id = `${base}-${n}`;
  return id;
}

const stamp = (d: Date) =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');

export interface PromoteOptions extends Context {
  env: Environment;
  digests: DigestsFile;
  verifier: Verifier;
}

export async function promote(o: PromoteOptions): Promise<PromotionRecord | null> {
  const now = (o.now ?? (() => new Date()))();
  const entries = new Map(readImages(o.root, o.env).map((e) => [e.name, e]));
  const reasons: string[] = [];
  const images: Images = {};
  for (const i of o.digests.images) {
    const entry = entries.get(i.service);
    if (!entry) {
      reasons.push(`${i.service}: no images: entry in deploy/overlays/${o.env}`);
      continue;
    }
    if (entry.newName && entry.newName !== i.name)
      reasons.push(`${i.service}: built as ${i.name}, the overlay runs ${entry.newName}`);
    images[i.service] = i.digest;
  }

  // 1. The digest passed the previous environment.
  const from = PREVIOUS[o.env];
  if (from !== 'build') {
    const passed = passedPromotions(readRecords(o.root, from));
    for (const [service, digest] of Object.entries(images))
      if (!passed.some((p) => p.images[service] === digest))
        reasons.push(
          `${service}@${digest}: did not pass ${from} (no verified, not rolled-back promotion there)`,
        );
  }
  // 2. Its signature verifies.
  for (const i of o.digests.images) {
    const v = await o.verifier.verify(i.name, i.digest);
    if (!v.ok) reasons.push(`${i.service}@${i.digest}: signature does not verify (${v.detail})`);
  }
  if (reasons.length) throw new PromotionRefused(reasons);

  const previous: Record<string, string | null> = {};
  for (const service of Object.keys(images)) previous[service] = entries.get(service)?.digest ?? null;
  if (Object.entries(images).every(([s, d]) => previous[s] === d)) return null; // already there

  const before = readFileSync(kustomizationFile(o.root, o.env), 'utf8');
  setDigests(o.root, o.env, images);
  const problems = renderProblems(o.root, o.env, images);
  if (problems.length) {
    writeFileSync(kustomizationFile(o.root, o.env), before);
    throw new Error(
      `the render of deploy/overlays/${o.env} does not carry the digests:\n  ${problems.join('\n  ')}`,
    );
  }
  const record: PromotionRecord = {
    kind: 'promotion',
    id: uniqueId(`${o.env}-${stamp(now)}-${o.digests.commit.slice(0, 7)}`, readRecords(o.root, o.env)),
    env: o.env,
    from,
    at: now.toISOString(),
    runId: o.runId,
    actor: o.actor,
    commit: o.digests.commit,
    committedAt: new Date(o.digests.committedAt).toISOString(),
    images,
    previous,
  };
  append(o.root, o.env, record);
  commitChange(o, o.env, `Promote ${o.digests.commit.slice(0, 7)} to ${o.env}`, [
    Object.entries(images)
      .map(([s, d]) => `${s} ${d}`)
      .join('\n'),
    `Promotion-Id: ${record.id}\nPromotion-Run: ${o.runId}`,
  ]);
  return record;
}

export interface VerifyOptions extends Context {
  env: Environment;
  outcome: 'pass' | 'fail';
  checks: string[];
}

export function recordVerification(o: VerifyOptions): VerificationRecord {
  const current = currentPromotion(readRecords(o.root, o.env));
  if (!current) throw new Error(`no promotion in ${o.env} to verify`);
  const record: VerificationRecord = {
    kind: 'verification',
    env: o.env,
    promotion: current.id,
    at: (o.now ?? (() => new Date()))().toISOString(),
    runId: o.runId,
    outcome: o.outcome,
    checks: o.checks,
  };
  append(o.root, o.env, record);
  commitChange(o, o.env, `Verification of ${current.id}: ${o.outcome}`, [
    `Checks: ${o.checks.join(', ') || 'none'}\nPromotion-Run: ${o.runId}`,
  ]);
  return record;
}

export interface RollbackOptions extends Context {
  env: Environment;
  reason: string;
}

/** The commit that made a promotion (its Promotion-Id trailer). */
export function promotionCommit(root: string, id: string): string {
  if (!/^[a-z]+-\d{8}T\d{6}Z-[0-9a-f]{7}(-\d+)?$/.test(id)) throw new Error(`not a promotion id: ${id}`);
  const sha = git(root, ['log', '-1', '--format=%H', `--grep=^Promotion-Id: ${id}$`]);
  if (!sha) throw new Error(`no commit carries Promotion-Id: ${id}`);
  return sha;
}

export function rollbackPromotion(o: RollbackOptions): RollbackRecord {
  const last = currentPromotion(readRecords(o.root, o.env));
  if (!last) throw new Error(`no promotion in ${o.env} to roll back`);
  const sha = promotionCommit(o.root, last.id);
  const file = path.relative(o.root, kustomizationFile(o.root, o.env));
  // Revert that commit's change of the overlay only: its records line stays (history for DORA).
  const diff = execFileSync('git', ['diff', `${sha}^`, sha, '--', file], { cwd: o.root, encoding: 'utf8' });
  git(o.root, ['apply', '-R', '--3way', '-'], diff);
  const problems = renderProblems(o.root, o.env, last.previous);
  if (problems.length) {
    git(o.root, ['checkout', 'HEAD', '--', file]);
    throw new Error(
      `after the revert the render does not carry the previous digests:\n  ${problems.join('\n  ')}`,
    );
  }
  const record: RollbackRecord = {
    kind: 'rollback',
    env: o.env,
    promotion: last.id,
    at: (o.now ?? (() => new Date()))().toISOString(),
    runId: o.runId,
    reason: o.reason,
    restored: last.previous,
  };
  append(o.root, o.env, record);
  commitChange(o, o.env, `Revert promotion ${last.id} in ${o.env}`, [
    `This reverts the overlay change of commit ${sha}.\nReason: ${o.reason}`,
    `Rollback-Of: ${last.id}\nPromotion-Run: ${o.runId}`,
  ]);
  return record;
}

/** What an environment's current promotion deployed, as a digests file for the next one. */
export function currentDigests(root: string, env: Environment): DigestsFile {
  const current = currentPromotion(readRecords(root, env));
  if (!current) throw new Error(`no promotion in ${env}`);
  const entries = new Map(readImages(root, env).map((e) => [e.name, e]));
  return {
    commit: current.commit,
    committedAt: current.committedAt,
    runId: current.runId,
    images: Object.entries(current.images).map(([service, digest]) => ({
      service,
      name: entries.get(service)?.newName ?? service,
      digest,
    })),
  };
}

function fail(text: string, code = 2): never {
  process.stderr.write(`promote: ${text}\n`);
  process.exit(code);
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      env: { type: 'string' },
      digests: { type: 'string' },
      repo: { type: 'string' },
      'run-id': { type: 'string' },
      actor: { type: 'string' },
      'no-commit': { type: 'boolean' },
      key: { type: 'string' },
      signatures: { type: 'string' },
      'trusted-root': { type: 'string' },
      'certificate-identity-regexp': { type: 'string' },
      'certificate-oidc-issuer': { type: 'string' },
      'allow-insecure-registry': { type: 'boolean' },
      outcome: { type: 'string' },
      checks: { type: 'string' },
      reason: { type: 'string' },
    },
  });
  const command = positionals[0] ?? 'promote';
  if (!isEnvironment(values.env)) fail('--env staging|production is required');
  const env = values.env;
  const ctx: Context = {
    root: path.resolve(values.repo ?? process.cwd()),
    runId: values['run-id'] ?? process.env.GITHUB_RUN_ID ?? 'local',
    actor: values.actor ?? process.env.GITHUB_ACTOR ?? process.env.USER ?? 'unknown',
    commit: !values['no-commit'],
  };
  const out = (v: unknown) => process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
  switch (command) {
    case 'promote': {
      if (!values.digests) fail('--digests FILE is required');
      const digests = parseDigests(readFileSync(values.digests, 'utf8'), values.digests);
      const cosign = toolPath('cosign');
      const verifier = values.signatures
        ? cosignBlobVerifier({
            cosign,
            key: values.key ?? fail('--signatures needs --key'),
            signatures: values.signatures,
          })
        : cosignImageVerifier({
            cosign,
            ...(values.key ? { key: values.key } : {}),
            ...(values['certificate-identity-regexp']
              ? { identityRegexp: values['certificate-identity-regexp'] }
              : {}),
            ...(values['certificate-oidc-issuer'] ? { oidcIssuer: values['certificate-oidc-issuer'] } : {}),
            extra: [
              ...(values['trusted-root']
                ? ['--insecure-ignore-tlog=true', '--offline=true', '--trusted-root', values['trusted-root']]
                : []),
              ...(values['allow-insecure-registry']
                ? ['--allow-http-registry', '--allow-insecure-registry']
                : []),
            ],
          });
      try {
        const record = await promote({ ...ctx, env, digests, verifier });
        if (!record) process.stderr.write(`promote: ${env} already runs these digests; nothing to do\n`);
        else out(record);
      } catch (err) {
        if (err instanceof PromotionRefused) fail(err.message, 1);
        throw err;
      }
      return;
    }
    case 'verify': {
      if (values.outcome !== 'pass' && values.outcome !== 'fail') fail('--outcome pass|fail is required');
      const checks = (values.checks ?? '').split(',').filter(Boolean);
      out(recordVerification({ ...ctx, env, outcome: values.outcome, checks }));
      return;
    }
    case 'digests':
      out(currentDigests(ctx.root, env));
      return;
    case 'rollback':
      out(rollbackPromotion({ ...ctx, env, reason: values.reason ?? 'manual rollback' }));
      return;
    default:
      fail(`unknown command ${command} (promote, verify, digests, rollback)`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((err: Error) => fail(err.message, 1));
}
