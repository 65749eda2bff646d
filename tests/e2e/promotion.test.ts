/**
 * The dev → staging → production pipeline end to end (issue 14, item 6), with the pipeline's own
 * commands on a temporary clone of this repository and the engines of this machine:
 *
 *  1. the service images (reused from the local image store: tests/e2e/promotion/images.ts) are
 *     pushed to a registry of the run and signed by digest with cosign;
 *  2. `npm run promote` commits their digests into the staging overlay of the clone (signature gate:
 *     cosign verify against that registry) and the commit is pushed to the clone's origin;
 *  3. Argo CD's sync is played by tests/e2e/promotion/gitops.ts (a real Argo CD cannot be built
 *     here): the overlay rendered by Kustomize, applied server-side in Argo CD's wave order to the
 *     local cluster (@mdp/cluster: etcd, kube-apiserver, controller-manager, scheduler, kwok);
 *  4. the real Argo Rollouts controller makes the Rollouts Healthy at those digests;
 *  5. scripts/pipeline/verify.sh runs `npm run smoke` and `npm run loadtest -- --profile ci` and
 *     records the verification. kwok plays the kubelets: the pods become Ready without running
 *     anything, so smoke and load test run against the same source as processes
 *     (packages/stack), the nearest real thing; the analyses read those processes' metrics through
 *     a real Prometheus (tests/e2e/promotion/pod-metrics.ts);
 *  6. production: scripts/pipeline/candidate.sh, `npm run promote -- --env production` (refused
 *     before staging verified the digests; cosign verified), the manual sync, Healthy, then
 *     scripts/pipeline/release.sh and verify.sh (smoke);
 *  7. bad releases: an unsigned digest refused by `npm run promote` (nothing committed), and a
 *     signed build whose pods report nothing: its canary analysis fails, the controller aborts,
 *     scripts/pipeline/rollback.sh reverts the promotion in Git and runs scripts/rollback.sh, the
 *     revert is synced and the previous digest serves again.
 *
 * Printed: the deploy time (promotion commit → every Rollout Healthy at the new digests) and the
 * rollback time (rollback start → the previous ReplicaSet Healthy and serving), against the plan's
 * targets (< 2 min, < 30 s); not asserted (wall clock). In `npm test` the deploys are first
 * deploys (no earlier revision: the controller makes them stable at once). `npm run
 * e2e:promotion` (MDP_E2E_PROMOTION=full) adds a second release of every service through the
 * canary and blue-green steps with their analyses passing on real metrics under load, and the bad
 * release then rolls back to it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadTest } from '@mdp/api-client/loadtest';
import { type Cluster, startCluster } from '@mdp/cluster/cluster';
import type { Managed } from '@mdp/cluster/processes';
import { startRolloutsController } from '@mdp/k8s-validate/server';
import { toolsBin } from '@mdp/platform/tools';
import { ROOT } from '../containers/stack.js';
import {
  argoSync,
  type CommandResult,
  command,
  configureEnvironment,
  type GitOps,
  gitOps,
  mustCommand,
} from './promotion/gitops.js';
import {
  createSigner,
  derive,
  type LocalImage,
  OWNER,
  push,
  type Registry,
  releaseImages,
  removeLocal,
  type Signer,
  startRegistry,
} from './promotion/images.js';
import { type PodMetrics, startPodMetrics } from './promotion/pod-metrics.js';
import { rolloutViews, waitReleased, waitRollout } from './promotion/rollouts.js';
import { type Stack, startStack } from './stack.js';

const FULL = process.env.MDP_E2E_PROMOTION === 'full';
const STAGING = 'mdp-staging';
const PRODUCTION = 'mdp-production';
const TARGET_DEPLOY_S = 120;
const TARGET_ROLLBACK_S = 30;

type Digests = Record<string, string>;

interface Figures {
  deploys: { what: string; seconds: number }[];
  rollbacks: { what: string; seconds: number }[];
}

describe('promotion end to end: registry, GitOps clone, local cluster, Argo Rollouts', {
  timeout: (FULL ? 30 : 15) * 60_000,
}, () => {
  const work = mkdtempSync(path.join(tmpdir(), 'mdp-promotion-'));
  const figures: Figures = { deploys: [], rollbacks: [] };
  const localNames: string[] = [];
  let cluster: Cluster | undefined;
  let controller: Managed | undefined;
  let registry: Registry | undefined;
  let stack: Stack | undefined;
  let metrics: PodMetrics | undefined;
  let g: GitOps;
  let signer: Signer;
  let services: string[];
  let images: LocalImage[];
  let revision: string;
  let release1: Digests;
  /** What staging runs when the bad release comes (release 1, or release 2 in the full form). */
  let current: Digests;
  let cosignEnv: NodeJS.ProcessEnv;
  const say = (line: string) => process.stdout.write(`# ${line}\n`);

  const repoOf = (service: string) => `${registry?.addr}/${OWNER}/${service}`;
  const env = (): NodeJS.ProcessEnv => ({
    ...cosignEnv,
    PATH: `${toolsBin()}:${process.env.PATH}`,
    KUBECONFIG: cluster?.kubeconfig,
    ROLLOUT_POLL_SECONDS: '1',
  });
  /** A command of the pipeline, run in the workflows' checkout of the clone. */
  const pipeline = (cmd: string, args: string[], extra: NodeJS.ProcessEnv = {}): Promise<CommandResult> =>
    command(cmd, args, { cwd: g.checkout, env: { ...env(), ...extra }, timeoutMs: 600_000 });
  const script = (name: string, args: string[], extra: NodeJS.ProcessEnv = {}) =>
    pipeline('bash', [path.join(g.checkout, 'scripts/pipeline', name), ...args], extra);
  const kubectl = () => (cluster as Cluster).kubectl;

  /** build-images.yml's digests file, made by its own step scripts. */
  async function digestsFile(name: string, digests: Digests, runId: string): Promise<string> {
    const dir = path.join(work, `digests-${name}`);
    mkdirSync(dir);
    for (const s of services) {
      const r = await script('image-digest.sh', [dir, s, repoOf(s), digests[s] as string]);
      assert.equal(r.code, 0, r.stderr);
    }
    const file = path.join(work, `${name}.json`);
    const r = await script('merge-digests.sh', [dir, file], { GITHUB_SHA: revision, GITHUB_RUN_ID: runId });
    assert.equal(r.code, 0, r.stderr);
    return file;
  }

  /** `npm run promote` with the run's key (image signatures in the run's registry). */
  const promote = (envName: string, file: string, runId: string) =>
    pipeline(
      'npm',
      [
        'run',
        '--silent',
        'promote',
        '--',
        '--env',
        envName,
        '--digests',
        file,
        '--repo',
        g.checkout,
        '--key',
        signer.publicKey,
        '--trusted-root',
        signer.trustedRoot,
        '--allow-insecure-registry',
      ],
      { GITHUB_RUN_ID: runId },
    );

  const records = async (envName: string) =>
    (await g.git(['show', `refs/heads/main:deploy/promotions/${envName}.jsonl`], g.origin))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; outcome?: string; images?: Digests; promotion?: string });
  const overlayDigest = async (envName: string, service: string) => {
    const text = await g.git(
      ['show', `refs/heads/main:deploy/overlays/${envName}/kustomization.yaml`],
      g.origin,
    );
    const at = text.indexOf(`name: ${service}\n`);
    return /digest: (sha256:[0-9a-f]{64})/.exec(text.slice(at, text.indexOf('- name:', at + 1)))?.[1];
  };
  const deploymentImage = async (ns: string, service: string) =>
    (
      await (cluster as Cluster).kubectlOk([
        '-n',
        ns,
        'get',
        'deployment',
        service,
        '-o',
        `jsonpath={.spec.template.spec.containers[?(@.name=="${service}")].image}`,
      ])
    ).trim();

  /** A new signed (or unsigned) build of `service`, pushed; its digest. */
  async function newBuild(service: string, build: string, signed: boolean): Promise<string> {
    const base = images.find((i) => i.service === service) as LocalImage;
    const local = `localhost/mdp-e2e-${randomBytes(4).toString('hex')}/${service}:${build}`;
    localNames.push(local);
    const digest = await derive(base.id, build, local, `${repoOf(service)}:${build}`, work);
    if (signed) await signer.sign(`${repoOf(service)}@${digest}`);
    return digest;
  }

  before(async () => {
    const t0 = performance.now();
    cosignEnv = { HOME: work, TUF_ROOT: path.join(work, 'tuf') };
    const lap = (what: string) => say(`${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const started = await Promise.allSettled([
      (async () => {
        // Three fake nodes: production's datastores spread one replica per node (required anti-affinity).
        const cl = await startCluster({ nodes: 3 });
        cluster = cl;
        controller = await startRolloutsController(
          cl.kubeconfig,
          path.join(work, 'rollouts-controller.log'),
          cl.kubectl,
        );
        lap('cluster and Argo Rollouts controller up');
        return cl;
      })(),
      (async () => {
        registry = await startRegistry(work);
        const list = JSON.parse(
          await mustCommand(path.join(ROOT, 'scripts/build-images.sh'), ['--list', '--json']),
        );
        services = (list.images as { service: string }[]).map((i) => i.service);
        const found = await releaseImages(services, say);
        images = found.images;
        revision = images[0]?.revision as string;
        signer = await createSigner(work);
        release1 = {};
        for (const i of images) {
          const digest = await push(i.id, `${repoOf(i.service)}:sha-${revision.slice(0, 7)}`, work);
          await signer.sign(`${repoOf(i.service)}@${digest}`);
          release1[i.service] = digest;
        }
        lap(
          `${images.length} images of ${revision.slice(0, 7)} ${found.built ? 'built' : 'reused'}, pushed, signed`,
        );
      })(),
      (async () => {
        stack = await startStack();
        lap('stack up (five services as processes)');
      })(),
      (async () => {
        g = await gitOps(ROOT, work);
      })(),
    ]);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const c = cluster as Cluster;
    metrics = await startPodMetrics(work, c.kubectl, [STAGING, PRODUCTION], (stack as Stack).urls);
    for (const d of Object.values(release1)) metrics.good.add(d);
    await configureEnvironment(g, { imagePrefix: `${registry?.addr}/${OWNER}`, prometheusUrl: metrics.url });
    current = release1;
  });

  after(async () => {
    const report = [
      ...figures.deploys.map(
        (d) =>
          `deploy time   ${d.seconds.toFixed(1).padStart(6)} s (target < ${TARGET_DEPLOY_S} s)  ${d.what}`,
      ),
      ...figures.rollbacks.map(
        (d) =>
          `rollback time ${d.seconds.toFixed(1).padStart(6)} s (target < ${TARGET_ROLLBACK_S} s)  ${d.what}`,
      ),
    ];
    for (const l of report) say(l);
    await metrics?.stop();
    await controller?.stop();
    await cluster?.stop();
    await stack?.stop();
    await registry?.stop();
    await removeLocal(localNames);
    // MDP_KEEP_WORK=1 keeps the run's folder (controller log, GitOps clone, records) to read.
    if (process.env.MDP_KEEP_WORK === '1') say(`work folder kept: ${work}`);
    else rmSync(work, { recursive: true, force: true });
  });

  test('staging: the digests promoted by a commit (signature gate), synced, Healthy; smoke and load test recorded', async () => {
    const file = await digestsFile('release-1', release1, 'e2e-1');
    const before = await g.originHead();
    const promoted = await promote('staging', file, 'e2e-1');
    assert.equal(promoted.code, 0, promoted.stderr);
    await g.git(['push', '--quiet', 'origin', 'HEAD:main']);
    const t0 = performance.now();
    assert.notEqual(await g.originHead(), before, 'one promotion commit on main');
    for (const s of services) assert.equal(await overlayDigest('staging', s), release1[s], s);
    const synced = await argoSync(cluster as Cluster, g, 'staging', work);
    say(
      `staging synced at ${synced.revision.slice(0, 7)} in ${synced.seconds.toFixed(1)} s (waves ${synced.waves.join(', ')})`,
    );
    await waitReleased(kubectl(), STAGING, release1, { say });
    figures.deploys.push({
      what: 'staging, first deploy (no earlier revision)',
      seconds: (performance.now() - t0) / 1000,
    });
    for (const s of services)
      assert.equal(await deploymentImage(STAGING, s), `${repoOf(s)}:staging@${release1[s]}`);

    // Production refuses what staging has not verified yet.
    const early = await script('candidate.sh', [path.join(work, 'early.json')]);
    assert.notEqual(early.code, 0, 'no candidate before the verification');
    const refused = await promote('production', file, 'e2e-2');
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /did not pass staging/);

    // The load test's CI profile against the same build as processes: its error rate is asserted;
    // its latencies are printed, not asserted (a wall clock on a shared 2-core machine). The full
    // form lets the SLO gate decide, as the workflow does.
    const load = await pipeline('npm', [
      'run',
      '--silent',
      'loadtest',
      '--',
      '--base-url',
      (stack as Stack).gateway,
      '--profile',
      'ci',
      '--json',
    ]);
    const summary = JSON.parse(load.stdout.trim().split('\n').at(-1) ?? '{}') as {
      errorRate?: number;
      pass?: boolean;
      failures?: string[];
    };
    say(
      `npm run loadtest -- --profile ci: exit ${load.code}, error rate ${summary.errorRate}, SLO gate ${summary.pass ? 'pass' : `fail (${summary.failures?.join('; ')})`}`,
    );
    assert.equal(summary.errorRate, 0, load.stdout + load.stderr);
    // The post-deploy verification (smoke test, and in the full form the load test's gate), recorded.
    const verified = await script('verify.sh', ['staging', (stack as Stack).gateway, FULL ? 'ci' : 'none']);
    say(
      `verify.sh staging: exit ${verified.code}\n${verified.stdout.trim().split('\n').slice(-12).join('\n')}`,
    );
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    const last = (await records('staging')).at(-1);
    assert.equal(last?.kind, 'verification');
    assert.equal(last?.outcome, 'pass');
  });

  test('production: only digests that passed staging, cosign verified; synced by hand, Healthy; release.sh and smoke', async () => {
    const candidate = path.join(work, 'candidate.json');
    const c = await script('candidate.sh', [candidate]);
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual(
      Object.fromEntries(
        (JSON.parse(readFileSync(candidate, 'utf8')).images as { service: string; digest: string }[]).map(
          (i) => [i.service, i.digest],
        ),
      ),
      release1,
    );
    await g.pull();
    const promoted = await promote('production', candidate, 'e2e-3');
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.equal(JSON.parse(promoted.stdout).from, 'staging');
    await g.git(['push', '--quiet', 'origin', 'HEAD:main']);
    const t0 = performance.now();
    // mdp-production has no automated sync: this is the person's Sync.
    await argoSync(cluster as Cluster, g, 'production', work);
    await waitReleased(kubectl(), PRODUCTION, release1, { say });
    figures.deploys.push({
      what: 'production, first deploy (no earlier revision)',
      seconds: (performance.now() - t0) / 1000,
    });
    const released = await script('release.sh', ['production', candidate, '60']);
    assert.equal(released.code, 0, released.stdout + released.stderr);
    for (const s of services)
      assert.match(released.stdout, new RegExp(`release: ${s} already runs ${release1[s]}`));
    const verified = await script('verify.sh', ['production', (stack as Stack).gateway, 'none']);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.equal((await records('production')).at(-1)?.outcome, 'pass');
  });

  // The full form only (npm run e2e:promotion): about two minutes more.
  if (FULL)
    test('full form: a second build of every service through the canary and blue-green steps, analyses passing under load', async () => {
      const release2: Digests = {};
      for (const s of services) release2[s] = await newBuild(s, 'release-2', true);
      for (const d of Object.values(release2)) metrics?.good.add(d);
      const file = await digestsFile('release-2', release2, 'e2e-4');
      await g.pull();
      const promoted = await promote('staging', file, 'e2e-4');
      assert.equal(promoted.code, 0, promoted.stderr);
      await g.git(['push', '--quiet', 'origin', 'HEAD:main']);
      const t0 = performance.now();
      // Traffic while the release runs: the analyses need the new pods' requests (min-requests).
      let loading = true;
      const load = (async () => {
        while (loading) await loadTest({ baseUrl: (stack as Stack).gateway, durationS: 5, rate: 15 });
      })();
      try {
        await argoSync(cluster as Cluster, g, 'staging', work);
        await waitReleased(kubectl(), STAGING, release2, { say, timeoutMs: 420_000 });
      } finally {
        loading = false;
        await load;
      }
      figures.deploys.push({
        what: 'staging, canary + blue-green with analyses',
        seconds: (performance.now() - t0) / 1000,
      });
      const verified = await script('verify.sh', ['staging', (stack as Stack).gateway, 'ci']);
      assert.equal(verified.code, 0, verified.stdout + verified.stderr);
      current = release2;
    });

  test('a bad release: an unsigned digest is refused by npm run promote and nothing is committed', async () => {
    const unsigned = await newBuild('order-service', 'unsigned', false);
    const file = await digestsFile('unsigned', { ...current, 'order-service': unsigned }, 'e2e-5');
    await g.pull();
    const before = await g.git(['rev-parse', 'HEAD']);
    const refused = await promote('staging', file, 'e2e-5');
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(refused.stderr, new RegExp(`order-service@${unsigned}: signature does not verify`));
    assert.equal(await g.git(['rev-parse', 'HEAD']), before);
    assert.equal(
      (await g.git(['status', '--porcelain', '--untracked-files=no'])).trim(),
      '',
      'nothing written',
    );
  });

  test('a bad release whose analysis fails: aborted by the controller, rolled back in Git and in the cluster', async () => {
    const bad = await newBuild('order-service', 'bad', true);
    const file = await digestsFile('bad', { ...current, 'order-service': bad }, 'e2e-6');
    await g.pull();
    const stableBefore = (await rolloutViews(kubectl(), STAGING)).get('order-service')?.stableRS;
    const promoted = await promote('staging', file, 'e2e-6');
    assert.equal(promoted.code, 0, promoted.stderr);
    await g.git(['push', '--quiet', 'origin', 'HEAD:main']);
    const t0 = performance.now();
    await argoSync(cluster as Cluster, g, 'staging', work);
    const aborted = await waitRollout(kubectl(), STAGING, 'order-service', (v) => v.phase === 'Degraded', {
      say,
      timeoutMs: 240_000,
    });
    say(
      `bad release aborted by the controller ${((performance.now() - t0) / 1000).toFixed(1)} s after its promotion commit`,
    );
    assert.match(aborted.message, /RolloutAborted/);
    assert.equal(aborted.stableRS, stableBefore, 'the stable ReplicaSet kept serving');
    assert.equal(
      await deploymentImage(STAGING, 'order-service'),
      `${repoOf('order-service')}:staging@${bad}`,
    );

    // rollback.yml's step: revert the promotion in Git, push, scripts/rollback.sh per changed service.
    const r0 = performance.now();
    const back = await script('rollback.sh', ['staging', 'canary analysis failed', '60']);
    say(`rollback.sh staging: exit ${back.code}\n${(back.stdout + back.stderr).trim()}`);
    assert.equal(back.code, 0, back.stdout + back.stderr);
    // Argo CD's automated sync of the revert (staging: automated, self-heal).
    await argoSync(cluster as Cluster, g, 'staging', work);
    const views = await waitReleased(kubectl(), STAGING, current, {
      say,
      timeoutMs: 120_000,
      allowDegraded: true,
    });
    figures.rollbacks.push({
      what: 'staging, aborted canary: revert commit + scripts/rollback.sh + sync',
      seconds: (performance.now() - r0) / 1000,
    });
    assert.equal(views.get('order-service')?.stableRS, stableBefore, 'the previous ReplicaSet serves again');
    assert.equal(await overlayDigest('staging', 'order-service'), current['order-service']);
    assert.equal(
      await deploymentImage(STAGING, 'order-service'),
      `${repoOf('order-service')}:staging@${current['order-service']}`,
    );
    const last = (await records('staging')).at(-1);
    assert.equal(last?.kind, 'rollback');
    // The rolled-back digest can never reach production.
    const refused = await promote('production', file, 'e2e-7');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`order-service@${bad}: did not pass staging`));
    writeFileSync(path.join(work, 'done'), '');
  });
});
