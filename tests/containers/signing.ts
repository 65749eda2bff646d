/**
 * Image signatures and SBOM attestations for the container test, offline: cosign v2 with a key pair
 * made for the run (no Fulcio, no Rekor: `--tlog-upload=false`, and on verification
 * `--insecure-ignore-tlog` plus an empty trusted root, so cosign does not reach for Sigstore's TUF
 * repository), against the run's local registry over plain HTTP on 127.0.0.1.
 *
 * The SBOM is CycloneDX from Trivy, read from the pushed image itself (`--image-src remote`): it lists
 * what the signed artifact holds (the npm packages under /app/node_modules, the base's OS packages)
 * rather than what a lockfile says, and it is the generator the release workflow already uses
 * (.github/workflows/build-images.yml). Only the SBOM is made here (`--format cyclonedx` with no
 * `--scanners`: Trivy runs no security scanner): Trivy's vulnerability database cannot be
 * downloaded on this machine, so the vulnerability gate runs in GitHub Actions only.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { toolPath } from '@mdp/platform/tools';
import { mustRun, type RunResult, run } from './stack.js';

/** A Sigstore trusted root that trusts no authority: verification rests on the key alone. */
const EMPTY_TRUSTED_ROOT = {
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: [],
};

export interface Signer {
  publicKey: string;
  /** The trusted root that trusts no authority (for `cosign verify --trusted-root`). */
  trustedRoot: string;
  /** Signs `ref` (name@sha256:...) with the run's key. */
  sign(ref: string): Promise<void>;
  /** Signs `ref` (name@sha256:...) and attests its CycloneDX SBOM; returns the SBOM. */
  signAndAttest(ref: string): Promise<CycloneDx>;
  verify(ref: string): Promise<RunResult>;
  verifyAttestation(ref: string): Promise<RunResult>;
}

export interface CycloneDx {
  bomFormat: string;
  metadata?: { component?: { name?: string; properties?: { name: string; value: string }[] } };
  components?: { name: string; version?: string; purl?: string }[];
}

export async function createSigner(work: string): Promise<Signer> {
  const cosign = toolPath('cosign');
  const env = {
    COSIGN_PASSWORD: randomBytes(12).toString('hex'),
    // Whatever cosign would cache stays in this run's folder.
    TUF_ROOT: path.join(work, 'tuf'),
    HOME: work,
  };
  const trustedRoot = path.join(work, 'trusted-root.json');
  writeFileSync(trustedRoot, JSON.stringify(EMPTY_TRUSTED_ROOT));
  await mustRun(cosign, ['generate-key-pair', '--output-key-prefix', path.join(work, 'cosign')], { env });
  const key = path.join(work, 'cosign.key');
  const publicKey = path.join(work, 'cosign.pub');
  const registry = ['--allow-http-registry', '--allow-insecure-registry'];
  const verifyFlags = [
    '--key',
    publicKey,
    '--insecure-ignore-tlog=true',
    '--offline=true',
    '--trusted-root',
    trustedRoot,
    ...registry,
  ];

  const sign = async (ref: string) => {
    await mustRun(cosign, ['sign', '--key', key, '--tlog-upload=false', '--yes', ...registry, ref], { env });
  };

  return {
    publicKey,
    trustedRoot,
    sign,
    async signAndAttest(ref) {
      await sign(ref);
      const sbomFile = path.join(work, `sbom-${randomBytes(4).toString('hex')}.cdx.json`);
      await mustRun(
        toolPath('trivy'),
        [
          'image',
          '--quiet',
          '--image-src',
          'remote',
          '--insecure',
          '--cache-dir',
          path.join(work, 'trivy-cache'),
          '--skip-db-update',
          '--skip-java-db-update',
          '--offline-scan',
          '--disable-telemetry',
          '--skip-version-check',
          '--format',
          'cyclonedx',
          '--output',
          sbomFile,
          ref,
        ],
        { env, timeoutMs: 5 * 60_000 },
      );
      await mustRun(
        cosign,
        [
          'attest',
          '--key',
          key,
          '--type',
          'cyclonedx',
          '--predicate',
          sbomFile,
          '--tlog-upload=false',
          '--yes',
          ...registry,
          ref,
        ],
        { env },
      );
      return JSON.parse(readFileSync(sbomFile, 'utf8')) as CycloneDx;
    },
    verify: (ref) => run(cosign, ['verify', ...verifyFlags, ref], { env }),
    verifyAttestation: (ref) =>
      run(cosign, ['verify-attestation', '--type', 'cyclonedx', ...verifyFlags, ref], { env }),
  };
}

/** The in-toto statements in `cosign verify-attestation` output (one DSSE envelope per line). */
export function attestedStatements(stdout: string): {
  predicateType: string;
  subject: { name: string; digest: { sha256: string } }[];
  predicate: CycloneDx;
}[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(Buffer.from(JSON.parse(l).payload, 'base64').toString('utf8')));
}
