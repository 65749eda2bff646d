/**
 * Bad configuration stops a service at start with one line naming the setting (exit 78, no stack
 * trace). A bad JWT key included: before, it became a 500 on every authenticated request while
 * /readyz stayed green. Every service that reads a key (from the launcher's table) is started as a
 * real process with an RSA key where an Ed25519 one belongs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { connectionEnv, type Resources, signingKeys, spawnService } from '@mdp/stack/launcher';
import { loadServices, ROOT, type ServiceEntry } from '@mdp/stack/services';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const wrongKeys: Resources['keys'] = {
  JWT_PRIVATE_KEY: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  JWT_PUBLIC_KEY: rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  JWT_SERVICE_PRIVATE_KEY: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  JWT_SERVICE_PUBLIC_KEY: rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
};
// Nothing is contacted: the configuration is refused first.
const resources: Resources = {
  database: (name) => `postgres://nobody@127.0.0.1:1/${name}`,
  redisUrl: 'redis://127.0.0.1:1',
  amqpUrl: 'amqp://guest:guest@127.0.0.1:1',
  keys: signingKeys(),
  urlOf: () => 'http://127.0.0.1:1',
};

describe('a bad JWT key stops start-up with one clear line', () => {
  let readers: ServiceEntry[] = [];
  before(async () => {
    readers = (await loadServices()).filter((s) => s.needs.signsTokens || s.needs.verifiesTokens);
  });

  test('every service that reads a key exits 78 naming it', async () => {
    assert.ok(readers.length >= 2, 'the gateway and user-service at least');
    const results = await Promise.all(
      readers.map(async (entry) => {
        const env = connectionEnv(entry, resources);
        for (const k of ['JWT_PRIVATE_KEY', 'JWT_PUBLIC_KEY'] as const) if (k in env) env[k] = wrongKeys[k];
        const child = spawnService(entry, {
          telemetry: false,
          env: { ...env, NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent' },
        });
        let stderr = '';
        child.stderr?.on('data', (d) => (stderr += d));
        const code = await new Promise<number | null>((r) => child.on('exit', r));
        return { entry, code, stderr };
      }),
    );
    for (const { entry, code, stderr } of results) {
      const setting = entry.needs.signsTokens ? 'JWT_PRIVATE_KEY' : 'JWT_PUBLIC_KEY';
      const label = entry.needs.signsTokens ? 'PRIVATE KEY' : 'PUBLIC KEY';
      assert.equal(code, 78, `${entry.name}: ${stderr}`);
      const lines = stderr.split('\n').filter((l) => l && !/DeprecationWarning|--trace-deprecation/.test(l));
      assert.deepEqual(lines, [
        `config error: ${setting} must be an Ed25519 ${label} PEM (it holds a rsa key)`,
      ]);
    }
  });
});

test('a service with bad configuration exits 78 with one line on stderr and no stack trace', () => {
  const res = spawnSync(
    process.execPath,
    ['--conditions=mdp-source', '--import', 'tsx', 'services/user-service/src/server.ts'],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH, NODE_ENV: 'production', REDIS_URL: 'redis://127.0.0.1:6379' },
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  assert.equal(res.status, 78);
  assert.equal(res.stderr.trim(), 'config error: DATABASE_URL is missing');
  assert.equal(res.stdout, '');
});
