/**
 * Signature verification of the digests a promotion would deploy, through cosign (v2). The
 * promotion takes a `Verifier`, so the same logic runs against
 *  - images in a registry (`cosign verify IMAGE@DIGEST`): the workflows; keyless (the Fulcio
 *    certificate of build-images.yml's GitHub OIDC identity) or with a public key, and
 *  - signed blobs (`cosign verify-blob`): a signature of the digest string itself, made with
 *    `cosign sign-blob --tlog-upload=false` by the key holder, for where no registry is reachable
 *    (the tests here): verified with the public key alone, offline.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface Verdict {
  ok: boolean;
  detail: string;
}

export interface Verifier {
  /** Whether `digest` of image `name` (registry/owner/service, no tag) carries a valid signature. */
  verify(name: string, digest: string): Promise<Verdict>;
}

export function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const lastLines = (text: string) => text.trim().split('\n').slice(-3).join(' | ');

export interface CosignImageOptions {
  cosign: string;
  /** A public key (key-pair signing); without it, keyless with the identity below. */
  key?: string;
  /** Keyless: the signer's certificate identity (regexp), e.g. the build-images workflow of this repo. */
  identityRegexp?: string;
  /** Keyless: the OIDC issuer, GitHub Actions' by default. */
  oidcIssuer?: string;
  /** Extra flags (e.g. --allow-insecure-registry for a local registry). */
  extra?: string[];
}

export function cosignImageVerifier(o: CosignImageOptions): Verifier {
  const identity = o.key
    ? ['--key', o.key]
    : [
        '--certificate-identity-regexp',
        o.identityRegexp ?? '',
        '--certificate-oidc-issuer',
        o.oidcIssuer ?? 'https://token.actions.githubusercontent.com',
      ];
  if (!o.key && !o.identityRegexp)
    throw new Error('cosign image verification needs --key or a certificate identity (regexp)');
  return {
    async verify(name, digest) {
      const r = await run(o.cosign, ['verify', ...identity, ...(o.extra ?? []), `${name}@${digest}`]);
      return { ok: r.code === 0, detail: r.code === 0 ? 'cosign verify: ok' : lastLines(r.stderr) };
    },
  };
}

export interface CosignBlobOptions {
  cosign: string;
  key: string;
  /** Folder of `<sha256 hex>.sig` files: `cosign sign-blob` signatures of the digest string. */
  signatures: string;
  env?: NodeJS.ProcessEnv;
}

/** The exact bytes that are signed for a digest: the digest string, no newline. */
export const signedPayload = (digest: string) => digest;

export function cosignBlobVerifier(o: CosignBlobOptions): Verifier {
  return {
    async verify(_name, digest) {
      const signature = path.join(o.signatures, `${digest.replace(/^sha256:/, '')}.sig`);
      if (!existsSync(signature)) return { ok: false, detail: `no signature ${signature}` };
      // Key-pair signatures made with --tlog-upload=false: the key is the whole trust, no
      // transparency log and no Sigstore TUF root to fetch (cosign v2.6 takes --trusted-root
      // only with the new bundle format, so none is given).
      const offline = ['--insecure-ignore-tlog=true', '--offline=true'];
      const dir = mkdtempSync(path.join(tmpdir(), 'mdp-verify-'));
      const payload = path.join(dir, 'payload');
      writeFileSync(payload, signedPayload(digest));
      try {
        const r = await run(
          o.cosign,
          ['verify-blob', '--key', o.key, '--signature', signature, ...offline, payload],
          o.env,
        );
        return { ok: r.code === 0, detail: r.code === 0 ? 'cosign verify-blob: ok' : lastLines(r.stderr) };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
