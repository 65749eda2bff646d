/**
 * The container images, built and run for real (issue 6):
 *  - builds every service image from the real Dockerfile with scripts/build-images.sh and the local
 *    stand-in bases (no registry can be pulled from here), and pushes them to a local registry
 *    (Debian's docker-registry) on 127.0.0.1;
 *  - pulls them back by the names the Kubernetes manifests use (ghcr.io/OWNER/<service>:sha-<7 hex>,
 *    ghcr.io remapped to the local registry by a registries.conf of this run);
 *  - signs every image by digest with cosign (a key pair made here, no transparency log) and attests
 *    a CycloneDX SBOM made by Trivy from the pushed image; verification passes for them and fails
 *    for an unsigned image and for a signed tag moved to a changed image (tests/containers/signing.ts);
 *  - runs the migrations, then every service with podman as non-root, read-only root filesystem,
 *    no capabilities, --network host against this machine's PostgreSQL, Redis and RabbitMQ,
 *    until /readyz answers 200; then SIGTERM: each exits 0 within the 10 s shutdown timeout.
 *
 * Needs root and podman, buildah, skopeo, runc, docker-registry plus the stand-in base images:
 * scripts/install-tools.d/images.sh installs them; cosign and trivy: scripts/install-tools.sh. It installs nothing itself, and a missing tool
 * FAILS the test (it never skips).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '@mdp/platform/testing';
import { toolPath } from '@mdp/platform/tools';
import { shopJourney } from '../e2e/journey.js';
import { attestedStatements, createSigner } from './signing.js';
import {
  containerEnv,
  createStack,
  freePort,
  HARDENED,
  httpStatus,
  mustRun,
  ROOT,
  run,
  type Stack,
} from './stack.js';

const OWNER = 'mdp-ci';
/**
 * What an image may add on top of its runtime base (dependencies + compiled code). The base itself
 * is Node's: the official Node.js 26 binary alone is 150 MB (it ships with debug info), so an
 * absolute limit would measure Node, not us.
 */
const MAX_APP_BYTES = 45 * 1000 * 1000;
const TOOLS = ['podman', 'buildah', 'skopeo', 'runc', 'docker-registry', 'git'];

describe('container images: build, push, pull, run hardened, stop on SIGTERM', {
  timeout: 20 * 60_000,
}, () => {
  const work = mkdtempSync(path.join(tmpdir(), 'mdp-images-'));
  let registry: ChildProcess | undefined;
  let registryAddr = '';
  let runtimeBaseRef = '';
  let sha = '';
  let services: string[] = [];
  let stack: Stack | undefined;
  const pulledRefs = new Map<string, string>();
  const pushedDigests = new Map<string, string>();

  before(async () => {
    const missing: string[] = [];
    for (const tool of TOOLS) {
      const r = await run('sh', ['-c', `command -v ${tool}`]);
      if (r.code !== 0) missing.push(tool);
    }
    assert.deepEqual(
      missing,
      [],
      `missing tools: ${missing.join(', ')} — run scripts/install-tools.d/images.sh`,
    );
    // cosign and trivy: <repo>/.tools/bin (scripts/install-tools.sh), else PATH; missing throws.
    for (const engine of ['cosign', 'trivy']) toolPath(engine);
    assert.equal(process.getuid?.(), 0, 'the container test runs rootful podman: run it as root');
    // The stand-in bases' names are defined once, in scripts/lib/containers-env.sh.
    const bases = await mustRun('bash', [
      '-c',
      `. '${ROOT}/scripts/lib/containers-env.sh' && echo "$MDP_STANDIN_BUILD_BASE $MDP_STANDIN_RUNTIME_BASE"`,
    ]);
    const [buildBaseRef, runtimeRef] = bases.trim().split(' ') as [string, string];
    runtimeBaseRef = runtimeRef;
    for (const base of [buildBaseRef, runtimeRef]) {
      const r = await run('podman', ['image', 'exists', base]);
      assert.equal(r.code, 0, `stand-in base ${base} is missing — run scripts/make-base-images.sh`);
    }
    sha = `sha-${await mustRun('git', ['rev-parse', '--short=7', 'HEAD'])}`;

    const port = await freePort();
    registryAddr = `127.0.0.1:${port}`;
    const log = openSync(path.join(work, 'registry.log'), 'w');
    registry = spawn('docker-registry', ['serve', path.join(ROOT, 'containers/registry/config.yml')], {
      env: {
        ...process.env,
        REGISTRY_HTTP_ADDR: registryAddr,
        REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: path.join(work, 'registry'),
      },
      stdio: ['ignore', log, log],
    });
    await eventually(async () => (await httpStatus(`http://${registryAddr}/v2/`)) === 200, 10_000, 100);

    // ghcr.io/... resolves to the local registry for this run's pulls (the manifests' names).
    const registriesConf = path.join(work, 'registries.conf');
    writeFileSync(
      registriesConf,
      [
        'unqualified-search-registries = []',
        'short-name-mode = "enforcing"',
        '[[registry]]',
        'prefix = "ghcr.io"',
        `location = "${registryAddr}"`,
        'insecure = true',
        '',
      ].join('\n'),
    );
    containerEnv.MDP_TEST_REGISTRIES_CONF = registriesConf;

    stack = await createStack('images');
  });

  after(async () => {
    await stack?.drop();
    // Drop this run's names; the layers stay in the store as build cache for the next run.
    for (const ref of pulledRefs.values()) await run('podman', ['untag', ref, ref]);
    for (const s of services) {
      for (const tag of [sha, '0.0.1', 'dev']) {
        const ref = `${registryAddr}/${OWNER}/${s}:${tag}`;
        await run('podman', ['untag', ref, ref]);
      }
    }
    if (registry && registry.exitCode === null) registry.kill('SIGTERM');
    rmSync(work, { recursive: true, force: true });
  });

  it('lists what the build produces (scripts/build-images.sh --list --json)', async () => {
    const out = JSON.parse(
      await mustRun(path.join(ROOT, 'scripts/build-images.sh'), ['--list', '--json', '--owner', OWNER]),
    );
    services = out.images.map((i: { service: string }) => i.service);
    assert.deepEqual(
      [...services].sort(),
      (stack as Stack).runs.map((r) => r.service).sort(),
      'one image per services/* folder, each run here',
    );
    for (const i of out.images) assert.equal(i.name, `ghcr.io/${OWNER}/${i.service}`);
    const re = new RegExp(out.tagPattern);
    for (const ok of ['1.4.2', 'sha-0123abc', 'dev', 'staging', 'stable']) assert.ok(re.test(ok), ok);
    for (const bad of ['latest', 'v1.4.2', 'sha-0123ab', '1.4', 'prod']) assert.ok(!re.test(bad), bad);
  });

  it('builds every image from the Dockerfile and pushes every tag to the local registry', async (t) => {
    const started = Date.now();
    await mustRun(
      path.join(ROOT, 'scripts/build-images.sh'),
      [
        '--standin',
        '--registry',
        registryAddr,
        '--owner',
        OWNER,
        '--version',
        '0.0.1',
        '--channel',
        'dev',
        '--push',
      ],
      { timeoutMs: 15 * 60_000 },
    );
    t.diagnostic(`build+push of ${services.length} images: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const re = /^([0-9]+\.[0-9]+\.[0-9]+|sha-[0-9a-f]{7}|dev|staging|stable)$/;
    for (const s of services) {
      const tags = JSON.parse(
        await mustRun('skopeo', [
          'list-tags',
          '--tls-verify=false',
          `docker://${registryAddr}/${OWNER}/${s}`,
        ]),
      ).Tags as string[];
      assert.deepEqual([...tags].sort(), ['0.0.1', 'dev', sha].sort(), `${s} tags`);
      for (const tag of tags) assert.ok(re.test(tag), `${s}:${tag} follows the contract`);
      const digest = JSON.parse(
        await mustRun('skopeo', [
          'inspect',
          '--tls-verify=false',
          `docker://${registryAddr}/${OWNER}/${s}:${sha}`,
        ]),
      ).Digest as string;
      assert.match(digest, /^sha256:[0-9a-f]{64}$/);
      pushedDigests.set(s, digest);
    }
  });

  it('pulls each image back by its manifest name ghcr.io/OWNER/<service>:sha-<7 hex>', async () => {
    const env = { CONTAINERS_REGISTRIES_CONF: containerEnv.MDP_TEST_REGISTRIES_CONF };
    for (const s of services) {
      const ref = `ghcr.io/${OWNER}/${s}:${sha}`;
      await run('podman', ['untag', ref, ref]); // a leftover of an earlier run must not stand in for the pull
      await mustRun('podman', ['pull', '--quiet', ref], { env });
      const repoDigests = (
        await mustRun('podman', ['image', 'inspect', '--format', '{{json .RepoDigests}}', ref])
      ).trim();
      assert.ok(
        (JSON.parse(repoDigests) as string[]).includes(`ghcr.io/${OWNER}/${s}@${pushedDigests.get(s)}`),
        `${ref} is the manifest that was pushed (${pushedDigests.get(s)}), got ${repoDigests}`,
      );
      pulledRefs.set(s, ref);
    }
  });

  it('signs every image and attests its SBOM; verification fails for an unsigned and a re-tagged, changed image', async (t) => {
    const signer = await createSigner(work);
    const at = (s: string) => `${registryAddr}/${OWNER}/${s}@${pushedDigests.get(s)}`;
    let started = Date.now();
    for (const s of services) {
      const sbom = await signer.signAndAttest(at(s));
      assert.equal(sbom.bomFormat, 'CycloneDX');
      // Read from the image: the service's production npm packages are in it.
      assert.ok(
        sbom.components?.some((c) => c.name === 'fastify'),
        `${s}: the SBOM lists fastify`,
      );
    }
    t.diagnostic(
      `sign + SBOM + attest, ${services.length} images: ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );

    started = Date.now();
    for (const s of services) {
      for (const ref of [at(s), `${registryAddr}/${OWNER}/${s}:${sha}`]) {
        const v = await signer.verify(ref);
        assert.equal(v.code, 0, `cosign verify ${ref}\n${v.stderr}`);
      }
      const a = await signer.verifyAttestation(at(s));
      assert.equal(a.code, 0, `cosign verify-attestation ${at(s)}\n${a.stderr}`);
      const statements = attestedStatements(a.stdout);
      assert.equal(statements.length, 1, `${s}: one SBOM attestation`);
      const [st] = statements;
      assert.equal(st?.predicateType, 'https://cyclonedx.org/bom');
      assert.equal(`sha256:${st?.subject[0]?.digest.sha256}`, pushedDigests.get(s), `${s}: attested digest`);
      assert.ok(st?.predicate.components?.some((c) => c.name === 'fastify'));
    }
    t.diagnostic(
      `verify + verify-attestation, ${services.length} images: ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );

    // An image nobody signed (the stand-in runtime base, pushed as is).
    const unsigned = `${registryAddr}/${OWNER}/unsigned:1`;
    await mustRun('skopeo', [
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      `containers-storage:${runtimeBaseRef}`,
      `docker://${unsigned}`,
    ]);
    const u = await signer.verify(unsigned);
    assert.notEqual(u.code, 0, 'an unsigned image must not verify');
    assert.match(u.stderr, /no signatures found/);

    // A signed tag moved to a changed image (one label added): the tag no longer verifies, while the
    // signed digest still does.
    const [first] = services;
    assert.ok(first);
    const tag = `${registryAddr}/${OWNER}/${first}:0.0.1`;
    const ctr = await mustRun('buildah', ['from', '--pull=never', tag]);
    await mustRun('buildah', ['config', '--label', 'io.mdp.changed=true', ctr]);
    await mustRun('buildah', ['commit', '--quiet', '--rm', ctr, tag]);
    await mustRun('podman', ['push', '--quiet', '--tls-verify=false', tag]);
    const moved = JSON.parse(await mustRun('skopeo', ['inspect', '--tls-verify=false', `docker://${tag}`]))
      .Digest as string;
    assert.notEqual(moved, pushedDigests.get(first), 'the tag now names another image');
    const c = await signer.verify(tag);
    assert.notEqual(c.code, 0, 'a re-tagged, changed image must not verify');
    assert.match(c.stderr, /no signatures found/);
    assert.notEqual((await signer.verifyAttestation(tag)).code, 0);
    assert.equal((await signer.verify(at(first))).code, 0, 'the signed digest still verifies');
  });

  it('images are hardened: numeric non-root user, production env, OCI labels, no shell, at most 45 MB over the base', async (t) => {
    const revision = await mustRun('git', ['rev-parse', 'HEAD']);
    const [runtimeBase] = JSON.parse(await mustRun('podman', ['image', 'inspect', runtimeBaseRef]));
    const pinnedNode = `v${readFileSync(path.join(ROOT, '.node-version'), 'utf8').trim()}`;
    for (const s of services) {
      const ref = pulledRefs.get(s) as string;
      // The runtime is the project's pinned Node.js LTS (.node-version), the one the tests ran on.
      const nodeVersion = (await mustRun('podman', ['run', '--rm', ref, '--version'])).trim();
      assert.equal(nodeVersion, pinnedNode, `${s}: node --version inside the image`);
      assert.equal(nodeVersion, process.version, `${s}: the image runs the Node.js the tests run on`);
      t.diagnostic(`${s}: node ${nodeVersion}`);
      const [img] = JSON.parse(await mustRun('podman', ['image', 'inspect', ref]));
      const cfg = img.Config;
      assert.match(cfg.User, /^[1-9][0-9]*(:[1-9][0-9]*)?$/, `${s}: numeric non-root USER`);
      assert.ok(cfg.Env.includes('NODE_ENV=production'), `${s}: NODE_ENV=production`);
      assert.ok(cfg.Env.includes('PORT=8080'), `${s}: PORT=8080`);
      assert.ok(cfg.Env.includes(`OTEL_SERVICE_NAME=${s}`), `${s}: OTEL_SERVICE_NAME`);
      assert.ok(cfg.Env.includes('SERVICE_VERSION=0.0.1'), `${s}: SERVICE_VERSION`);
      assert.equal(cfg.WorkingDir, `/app/services/${s}`);
      assert.equal(cfg.Labels['org.opencontainers.image.version'], '0.0.1');
      assert.equal(cfg.Labels['org.opencontainers.image.revision'], revision);
      assert.match(cfg.Labels['org.opencontainers.image.source'], /^https:\/\/github\.com\//);
      assert.equal(cfg.Labels['org.opencontainers.image.title'], s);
      const appBytes = img.Size - runtimeBase.Size;
      assert.ok(appBytes <= MAX_APP_BYTES, `${s}: ${appBytes} bytes over the runtime base > 45 MB`);
      t.diagnostic(
        `${s}: ${(img.Size / 1e6).toFixed(1)} MB (${(appBytes / 1e6).toFixed(1)} MB over the base)`,
      );
      for (const shell of ['/bin/sh', '/bin/bash', '/usr/bin/apt-get', '/usr/local/bin/npm']) {
        const r = await run('podman', ['run', '--rm', '--entrypoint', shell, ref, '-c', 'true']);
        assert.notEqual(r.code, 0, `${s}: ${shell} must not exist in the runtime image`);
      }
      // The process user cannot change the application, even without --read-only.
      const w = await run('podman', [
        'run',
        '--rm',
        ref,
        '-e',
        "require('fs').writeFileSync('dist/src/x.js', '')",
      ]);
      assert.notEqual(w.code, 0, `${s}: the app files must not be writable by the process user`);
      assert.match(w.stderr, /EACCES/);
    }
  });

  const image = (service: string) => pulledRefs.get(service) as string;

  it('runs the migrations from the image (PostgreSQL services)', async () => {
    await (stack as Stack).migrate(image);
  });

  it('every service reaches /readyz 200 as non-root on a read-only root filesystem', async (t) => {
    const started = Date.now();
    const st = stack as Stack;
    await st.start(image);
    await st.waitReady();
    for (const r of st.runs) {
      assert.equal(await httpStatus(`http://127.0.0.1:${r.port}/readyz`), 200, r.service);
      const top = await mustRun('podman', ['top', r.container as string, 'huser', 'args']);
      const line = top.split('\n')[1] ?? '';
      assert.match(
        line,
        /^65532\s+\/nodejs\/bin\/node --import @mdp\/platform\/telemetry dist\/src\/server\.js/,
        line,
      );
      const [info] = JSON.parse(await mustRun('podman', ['container', 'inspect', r.container as string]));
      assert.equal(info.HostConfig.ReadonlyRootfs, true);
    }
    t.diagnostic(`all ${st.runs.length} containers ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  it('the end-to-end shop journey passes against the containers, through the gateway only', async (t) => {
    const st = stack as Stack;
    const product = st.runs.find((r) => r.service === 'product-service');
    const catalogUrl = product?.migrate?.PRODUCT_DB_URL as string;
    // The demo catalog, loaded by the image's own seed command (into the empty store).
    await mustRun('podman', [
      'run',
      '--rm',
      ...HARDENED,
      '-e',
      `PRODUCT_DB_URL=${catalogUrl}`,
      image('product-service'),
      'dist/src/seed.js',
    ]);
    const started = Date.now();
    await shopJourney(st.gatewayUrl);
    t.diagnostic(`journey against the containers in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  it('the api-gateway image carries the smoke test (@mdp/api-client): it passes against the containers', async (t) => {
    const st = stack as Stack;
    // The exact in-image command of packages/api-client/README.md (the delivery smoke Job's).
    const { code, stdout, stderr } = await run('podman', [
      'run',
      '--rm',
      ...HARDENED,
      image('api-gateway'),
      '/app/packages/api-client/dist/src/smoke.js',
      '--base-url',
      st.gatewayUrl,
    ]);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
    t.diagnostic(`in-image smoke: exit ${code}, ${summary.steps?.length ?? 0} steps`);
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.equal(summary.ok, true);
    assert.deepEqual(
      summary.steps.map((s: { name: string }) => s.name),
      ['register', 'login', 'list products', 'place order', 'read order', 'cancel order', 'read me'],
    );
  });

  it('on SIGTERM every container exits 0 within the 10 s shutdown timeout (image default drain 3 s)', async (t) => {
    const results = await (stack as Stack).stop();
    for (const r of results) {
      t.diagnostic(`${r.service}: exit ${r.code} after ${r.ms} ms`);
      // Exit 0: the lifecycle exits 1 when the shutdown outlasts its timeout (10 s, logged below).
      assert.equal(r.code, 0, `${r.service} exit code\n${r.logs.slice(-3000)}`);
      assert.ok(r.drained, `${r.service}: /readyz never answered 503 while draining`);
      assert.match(r.logs, /"msg":"shutdown started"/);
      assert.match(r.logs, /"drainMs":3000/, `${r.service}: the image's default drain is 3 s`);
      assert.match(r.logs, /"timeoutMs":10000/);
      assert.match(r.logs, /shutdown complete/);
    }
    // The local registry's own log must not show a crash.
    assert.doesNotMatch(readFileSync(path.join(work, 'registry.log'), 'utf8'), /panic/);
  });
});
