/**
 * Trivy (<repo>/.tools/bin/trivy, scripts/install-tools.sh), fully offline:
 *  - `trivy config` (misconfigurations, Trivy's embedded checks) over the Dockerfile and over every
 *    render that `npm run validate:k8s` renders (`kubectl kustomize`);
 *  - `trivy fs --scanners secret` over the repository (what git tracks: node_modules, dist and
 *    the tool folders are skipped).
 * No HIGH or CRITICAL finding is allowed unless .trivyignore.yaml lists it with its reason, and every
 * entry there must still match a finding (no stale acceptances). Every run is inside a network
 * namespace of its own with no interface up (`unshare --net`), so a download attempt (the checks
 * bundle, the vulnerability DB, a version check) fails the test instead of passing unnoticed.
 * Trivy's vulnerability database cannot be downloaded on this machine: the image vulnerability gate
 * runs in GitHub Actions only (.github/workflows/build-images.yml).
 *
 * Planted findings (a root Dockerfile, a privileged pod, a private key) prove the gate can fail.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { TARGETS } from '@mdp/k8s-validate/validate';
import { repoRoot, toolPath } from '@mdp/platform/tools';
import { parse, parseAllDocuments } from 'yaml';

const execFileP = promisify(execFile);

/** The path patterns of .trivyignore.yaml as Trivy reads them (doublestar: `**` spans folders). */
const globRe = (glob: string) =>
  new RegExp(
    `^${glob
      .split(/(\*\*\/?|\*|\?)/)
      .map((part) => {
        if (part === '**/') return '(?:.*/)?';
        if (part === '**') return '.*';
        if (part === '*') return '[^/]*';
        if (part === '?') return '[^/]';
        return part.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      })
      .join('')}$`,
  );

const ROOT = repoRoot();
const IGNORE_FILE = path.join(ROOT, '.trivyignore.yaml');
const SEVERITIES = 'HIGH,CRITICAL';

interface Finding {
  target: string;
  kind: 'misconfiguration' | 'secret';
  id: string;
  severity: string;
  title: string;
}

interface TrivyReport {
  Results?: {
    Target: string;
    Misconfigurations?: { AVDID?: string; ID: string; Severity: string; Title: string; Status?: string }[];
    Secrets?: { RuleID: string; Severity: string; Title: string }[];
  }[];
}

interface IgnoreEntry {
  id: string;
  paths?: string[];
  statement?: string;
}

describe('Trivy, offline: misconfigurations and secrets', { timeout: 10 * 60_000 }, () => {
  let trivy = '';
  let work = '';
  let renders = '';
  let objects = 0;

  before(async () => {
    trivy = toolPath('trivy');
    work = mkdtempSync(path.join(tmpdir(), 'mdp-trivy-'));
    renders = path.join(work, 'renders');
    mkdirSync(renders);
    // One file per object, renders/<target with dashes>/<Kind>-<name>.yaml, so that Trivy names
    // the object in each finding and .trivyignore.yaml can accept one object, not a whole render.
    for (const target of TARGETS) {
      const { stdout } = await execFileP('kubectl', ['kustomize', path.join(ROOT, target)], {
        maxBuffer: 64 * 1024 * 1024,
      });
      const dir = path.join(renders, target.replaceAll('/', '-'));
      mkdirSync(dir);
      for (const doc of parseAllDocuments(stdout)) {
        const o = doc.toJS() as { kind?: string; metadata?: { name?: string } } | null;
        if (!o?.kind) continue;
        let file = path.join(dir, `${o.kind}-${o.metadata?.name ?? 'unnamed'}.yaml`);
        for (let i = 2; existsSync(file); i++) file = file.replace(/(-[0-9]+)?\.yaml$/, `-${i}.yaml`);
        writeFileSync(file, String(doc));
        objects++;
      }
    }
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /**
   * Runs trivy in a network namespace with no network (so nothing can be downloaded), with its
   * cache in this run's folder, and returns the HIGH/CRITICAL findings of its JSON report.
   */
  async function scan(args: string[], opts: { ignore?: boolean } = {}): Promise<Finding[]> {
    const out = path.join(work, `report-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
    const cmd = [
      '--net',
      '--',
      trivy,
      ...args,
      '--quiet',
      '--disable-telemetry',
      '--skip-version-check',
      '--cache-dir',
      path.join(work, 'cache'),
      '--severity',
      SEVERITIES,
      '--format',
      'json',
      '--output',
      out,
      ...(opts.ignore === false ? [] : ['--ignorefile', IGNORE_FILE]),
    ];
    try {
      await execFileP('unshare', cmd, { maxBuffer: 64 * 1024 * 1024, timeout: 5 * 60_000 });
    } catch (err) {
      const e = err as { code?: number; stderr?: string };
      throw new Error(`trivy ${args.join(' ')} failed (${e.code}):\n${String(e.stderr).slice(-4000)}`);
    }
    const report = JSON.parse(readFileSync(out, 'utf8')) as TrivyReport;
    const findings: Finding[] = [];
    for (const r of report.Results ?? []) {
      for (const m of r.Misconfigurations ?? []) {
        if (m.Status && m.Status !== 'FAIL') continue;
        findings.push({
          target: r.Target,
          kind: 'misconfiguration',
          id: m.ID,
          severity: m.Severity,
          title: m.Title,
        });
      }
      for (const s of r.Secrets ?? [])
        findings.push({
          target: r.Target,
          kind: 'secret',
          id: s.RuleID,
          severity: s.Severity,
          title: s.Title,
        });
    }
    return findings;
  }

  const config = (target: string, opts?: { ignore?: boolean }) =>
    scan(['config', '--skip-check-update', target], opts);
  const secrets = (target: string, opts?: { ignore?: boolean }) =>
    scan(
      [
        'fs',
        '--scanners',
        'secret',
        '--skip-db-update',
        '--skip-dirs',
        '**/node_modules,**/dist,.git,.tools,.local',
        target,
      ],
      opts,
    );
  const show = (f: Finding[]) => f.map((x) => `${x.target}: ${x.id} ${x.severity} ${x.title}`).join('\n');

  test('the Dockerfile has no HIGH/CRITICAL misconfiguration', async () => {
    const dir = path.join(work, 'dockerfile');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'Dockerfile'), readFileSync(path.join(ROOT, 'Dockerfile')));
    const findings = await config(dir);
    assert.deepEqual(findings, [], show(findings));
  });

  test(`every render (${TARGETS.join(', ')}) has no HIGH/CRITICAL misconfiguration`, async (t) => {
    const findings = await config(renders);
    t.diagnostic(`${objects} objects in ${TARGETS.length} renders scanned`);
    assert.deepEqual(findings, [], show(findings));
  });

  test('the repository holds no secret', async () => {
    const findings = await secrets(ROOT);
    assert.deepEqual(findings, [], show(findings));
  });

  test('every accepted finding in .trivyignore.yaml has a reason and still occurs', async () => {
    const doc = parse(readFileSync(IGNORE_FILE, 'utf8')) as Record<string, IgnoreEntry[] | undefined>;
    const entries = [
      ...(doc.misconfigurations ?? []).map((e) => ({ ...e, kind: 'misconfiguration' })),
      ...(doc.secrets ?? []).map((e) => ({ ...e, kind: 'secret' })),
    ];
    const dir = path.join(work, 'dockerfile-all');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'Dockerfile'), readFileSync(path.join(ROOT, 'Dockerfile')));
    const raw = [
      ...(await config(dir, { ignore: false })),
      ...(await config(renders, { ignore: false })),
      ...(await secrets(ROOT, { ignore: false })),
    ];
    for (const e of entries) {
      assert.ok(e.statement && e.statement.trim().length >= 20, `${e.id}: a reason (statement) is required`);
      const hits = raw.filter(
        (f) =>
          f.kind === e.kind && f.id === e.id && (!e.paths || e.paths.some((p) => globRe(p).test(f.target))),
      );
      assert.ok(
        hits.length > 0,
        `${e.id} (${e.paths?.join(', ') ?? 'all paths'}) matches no finding any more`,
      );
    }
  });

  test('the gate can fail: a root Dockerfile, a privileged pod and a private key are found', async () => {
    const bad = path.join(work, 'planted');
    mkdirSync(bad);
    writeFileSync(
      path.join(bad, 'Dockerfile'),
      'FROM docker.io/library/debian:12\nRUN apt-get update\nUSER root\nCMD ["sleep", "1"]\n',
    );
    writeFileSync(
      path.join(bad, 'pod.yaml'),
      [
        'apiVersion: v1',
        'kind: Pod',
        'metadata: {name: bad, namespace: mdp-dev}',
        'spec:',
        '  containers:',
        '    - name: c',
        '      image: ghcr.io/mdp-example/api-gateway:dev',
        '      securityContext: {privileged: true}',
        '',
      ].join('\n'),
    );
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs1', format: 'pem' })
      .toString();
    writeFileSync(path.join(bad, 'deploy-key.pem'), pem);
    const found = [...(await config(bad)), ...(await secrets(bad))];
    const ids = new Set(found.map((f) => `${f.target}:${f.id}`));
    assert.ok(
      [...ids].some((i) => i.startsWith('Dockerfile:')),
      show(found),
    );
    assert.ok(
      [...ids].some((i) => i.startsWith('pod.yaml:')),
      show(found),
    );
    assert.ok(
      found.some((f) => f.kind === 'secret' && f.target === 'deploy-key.pem'),
      show(found),
    );
  });
});
