import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Script } from 'node:vm';
import { parseDocuments, type Resource } from '../src/resources.js';
import { externalSecrets } from '../src/validate.js';
import { repoRoot } from './helpers.js';

function shellScripts(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(path.join(repoRoot, dir), { withFileTypes: true })) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.sh')) out.push(rel);
    }
  };
  walk('scripts/k8s');
  walk('databases');
  out.push('scripts/install-tools.d/k8s.sh');
  return out.sort();
}

const decode = (s: Resource, key: string) =>
  Buffer.from(String(s.data?.[key] ?? ''), 'base64').toString('utf8');

function dryRunSecrets(ns = 'mdp-dev'): Map<string, Resource> {
  const out = execFileSync('bash', [path.join(repoRoot, 'scripts/k8s/create-secrets.sh'), ns, '--dry-run'], {
    encoding: 'utf8',
  });
  return new Map(parseDocuments(out).map((s) => [s.metadata.name, s]));
}

describe('Kubernetes shell scripts', () => {
  test('shellcheck finds nothing, at every severity', () => {
    const files = shellScripts();
    assert.ok(files.includes('scripts/k8s/kind-up.sh') && files.includes('scripts/k8s/create-secrets.sh'));
    const res = spawnSync('shellcheck', ['-S', 'style', ...files], { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(res.error, undefined, 'shellcheck is not installed (scripts/install-tools.d/k8s.sh)');
    assert.equal(res.status, 0, res.stdout + res.stderr);
  });

  test('create-secrets.sh makes exactly the documented external secrets, valid and consistent', () => {
    const secrets = dryRunSecrets();
    const documented = externalSecrets(repoRoot);
    const expected = Object.keys(documented)
      .filter((n) => documented[n]?.createdBy === 'scripts/k8s/create-secrets.sh')
      .sort();
    assert.deepEqual([...secrets.keys()].sort(), expected);
    for (const [name, s] of secrets) {
      assert.equal(s.metadata.namespace, 'mdp-dev');
      assert.deepEqual(Object.keys(s.data ?? {}).sort(), [...(documented[name]?.keys ?? [])].sort(), name);
      for (const key of Object.keys(s.data ?? {}))
        assert.ok(decode(s, key).length > 0, `${name}.${key} is empty`);
    }
    const get = (name: string) => secrets.get(name) as Resource;
    const pg = get('postgresql-credentials');
    const roles: [string, string, string, string][] = [
      ['user-service-secrets', 'user_service', 'users', 'USER_SERVICE_DB_PASSWORD'],
      ['order-service-secrets', 'order_service', 'orders', 'ORDER_SERVICE_DB_PASSWORD'],
      [
        'notification-service-secrets',
        'notification_service',
        'notifications',
        'NOTIFICATION_SERVICE_DB_PASSWORD',
      ],
    ];
    for (const [secret, role, db, key] of roles) {
      const url = new URL(decode(get(secret), 'DATABASE_URL'));
      assert.equal(url.protocol, 'postgres:');
      assert.equal(url.username, role);
      assert.equal(url.password, decode(pg, key));
      assert.equal(`${url.hostname}:${url.port}${url.pathname}`, `postgresql:5432/${db}`);
      // The CloudNativePG managed role has the same password.
      const managed = get(`postgresql-${secret.replace('-secrets', '')}`);
      assert.equal(managed.type, 'kubernetes.io/basic-auth');
      assert.deepEqual([decode(managed, 'username'), decode(managed, 'password')], [role, url.password]);
    }
    const product = new URL(decode(get('product-service-secrets'), 'PRODUCT_DB_URL'));
    assert.equal(product.protocol, 'mongodb+srv:');
    assert.equal(product.hostname, 'mongodb-headless.mdp-dev.svc.cluster.local');
    assert.equal(product.password, decode(get('mongodb-credentials'), 'PRODUCT_SERVICE_DB_PASSWORD'));
    assert.equal(product.searchParams.get('replicaSet'), 'rs0');
    const rabbit = get('rabbitmq-credentials');
    assert.match(
      decode(rabbit, '20-credentials.conf'),
      new RegExp(`default_pass = ${decode(rabbit, 'RABBITMQ_PASSWORD')}\\n`),
    );
    // Each service connects as its own RabbitMQ user (never the administrator of the Job).
    for (const svc of ['user-service', 'product-service', 'order-service', 'notification-service']) {
      const amqp = new URL(decode(get(`${svc}-secrets`), 'AMQP_URL'));
      assert.equal(decodeURIComponent(amqp.username), svc);
      assert.equal(amqp.password, decode(rabbit, `${svc.toUpperCase().replace(/-/g, '_')}_AMQP_PASSWORD`));
      assert.notEqual(amqp.password, decode(rabbit, 'RABBITMQ_PASSWORD'));
    }
    // The gateway and user-service as their own Redis ACL users; product-service's cache with the
    // default user of redis-cache.
    const redisCreds = get('redis-credentials');
    for (const [svc, key] of [
      ['api-gateway', 'API_GATEWAY_REDIS_PASSWORD'],
      ['user-service', 'USER_SERVICE_REDIS_PASSWORD'],
    ] as const) {
      const redis = new URL(decode(get(`${svc}-secrets`), 'REDIS_URL'));
      assert.deepEqual([redis.username, redis.password], [svc, decode(redisCreds, key)]);
    }
    assert.equal(
      new URL(decode(get('product-service-secrets'), 'REDIS_URL')).password,
      decode(redisCreds, 'REDIS_PASSWORD'),
    );
    assert.ok(decode(get('mongodb-credentials'), 'keyfile').length >= 6 * 100);
    // The gateway's public key is the one of user-service's signing key.
    const privateKey = createPrivateKey(decode(get('user-service-secrets'), 'JWT_PRIVATE_KEY'));
    assert.equal(privateKey.asymmetricKeyType, 'ed25519');
    assert.equal(
      createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString().trim(),
      decode(get('api-gateway-secrets'), 'JWT_PUBLIC_KEY').trim(),
    );
    // product-service verifies /internal calls with the public half of order-service's own
    // service-token key, which is another key than the access tokens' and only order-service has.
    const serviceKey = createPrivateKey(decode(get('order-service-secrets'), 'JWT_SERVICE_PRIVATE_KEY'));
    assert.equal(serviceKey.asymmetricKeyType, 'ed25519');
    assert.equal(
      createPublicKey(serviceKey).export({ type: 'spki', format: 'pem' }).toString().trim(),
      decode(get('product-service-secrets'), 'JWT_SERVICE_PUBLIC_KEY').trim(),
    );
    assert.notEqual(
      decode(get('product-service-secrets'), 'JWT_SERVICE_PUBLIC_KEY').trim(),
      decode(get('product-service-secrets'), 'JWT_PUBLIC_KEY').trim(),
    );
    for (const [name, s] of secrets)
      if (name !== 'order-service-secrets') assert.ok(!('JWT_SERVICE_PRIVATE_KEY' in (s.data ?? {})), name);
  });

  test('create-secrets.sh in production: PostgreSQL through postgresql-rw, the product cache in redis-cache', () => {
    const secrets = dryRunSecrets('mdp-production');
    const get = (name: string) => secrets.get(name) as Resource;
    for (const s of ['user-service-secrets', 'order-service-secrets', 'notification-service-secrets'])
      assert.equal(new URL(decode(get(s), 'DATABASE_URL')).hostname, 'postgresql-rw');
    assert.equal(new URL(decode(get('product-service-secrets'), 'REDIS_URL')).hostname, 'redis-cache');
    // dev and staging too: the cache never shares the Redis of tokens and limits (issue 15, finding 2).
    const dev = dryRunSecrets('mdp-dev');
    assert.equal(
      new URL(decode(dev.get('product-service-secrets') as Resource, 'REDIS_URL')).hostname,
      'redis-cache',
    );
    assert.equal(new URL(decode(dev.get('user-service-secrets') as Resource, 'REDIS_URL')).hostname, 'redis');
    assert.equal(new URL(decode(dev.get('api-gateway-secrets') as Resource, 'REDIS_URL')).hostname, 'redis');
    assert.equal(new URL(decode(get('user-service-secrets'), 'REDIS_URL')).hostname, 'redis');
    // Flagsmith's API reaches its own database with the password that database starts with.
    const flagsmith = get('flagsmith-credentials');
    const db = new URL(decode(flagsmith, 'DATABASE_URL'));
    assert.equal(
      `${db.username}@${db.hostname}:${db.port}${db.pathname}`,
      'flagsmith@flagsmith-postgresql:5432/flagsmith',
    );
    assert.equal(db.password, decode(flagsmith, 'POSTGRES_PASSWORD'));
    assert.ok(decode(flagsmith, 'DJANGO_SECRET_KEY').length >= 50);
  });

  test('create-secrets.sh draws new passwords on every run', () => {
    const a = decode(dryRunSecrets().get('postgresql-credentials') as Resource, 'POSTGRES_PASSWORD');
    const b = decode(dryRunSecrets().get('postgresql-credentials') as Resource, 'POSTGRES_PASSWORD');
    assert.match(a, /^[0-9a-f]{48}$/);
    assert.notEqual(a, b);
  });

  test('create-ghcr-secret.sh builds a dockerconfigjson for ghcr.io from env or stdin', () => {
    const script = path.join(repoRoot, 'scripts/k8s/create-ghcr-secret.sh');
    const fromEnv = execFileSync('bash', [script, 'mdp-staging', '--dry-run'], {
      encoding: 'utf8',
      env: { ...process.env, GHCR_USERNAME: 'octo', GHCR_TOKEN: 'tok"en\\1' },
    });
    const fromStdin = execFileSync('bash', [script, 'mdp-staging', '--dry-run'], {
      encoding: 'utf8',
      input: 'tok"en\\1\n',
      env: { ...process.env, GHCR_USERNAME: 'octo', GHCR_TOKEN: '' },
    });
    for (const out of [fromEnv, fromStdin]) {
      const [s] = parseDocuments(out);
      assert.ok(s);
      assert.equal(s.type, 'kubernetes.io/dockerconfigjson');
      assert.equal(s.metadata.name, 'ghcr-pull-secret');
      const config = JSON.parse(decode(s, '.dockerconfigjson'));
      assert.equal(config.auths['ghcr.io'].password, 'tok"en\\1');
      assert.equal(Buffer.from(config.auths['ghcr.io'].auth, 'base64').toString(), 'octo:tok"en\\1');
    }
    const missing = spawnSync('bash', [script, 'mdp-dev'], {
      encoding: 'utf8',
      env: { ...process.env, GHCR_USERNAME: '' },
    });
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /GHCR_USERNAME/);
  });

  test('the mongosh scripts are valid JavaScript', () => {
    for (const f of ['databases/mongodb/init.js', 'databases/mongodb/rs-init.js']) {
      // mongosh runs them as scripts: compile them the same way (syntax only).
      assert.doesNotThrow(() => new Script(readFileSync(path.join(repoRoot, f), 'utf8'), { filename: f }), f);
    }
  });

  test('definitions.json declares the contract topology for the broker', () => {
    const d = JSON.parse(readFileSync(path.join(repoRoot, 'databases/rabbitmq/definitions.json'), 'utf8'));
    const ex = d.exchanges.find((e: { name: string }) => e.name === 'mdp.events');
    assert.deepEqual([ex.type, ex.durable], ['topic', true]);
    const q = d.queues.find((e: { name: string }) => e.name === 'notification-service.events');
    assert.equal(q.arguments['x-dead-letter-exchange'], 'mdp.events.dlx');
    const keys = d.bindings
      .filter(
        (b: { destination: string; source: string }) => b.source === 'mdp.events' && b.destination === q.name,
      )
      .map((b: { routing_key: string }) => b.routing_key)
      .sort();
    assert.deepEqual(keys, ['order.cancelled', 'order.created', 'product.stock_low', 'user.registered']);
    assert.ok(d.queues.some((e: { name: string }) => e.name === 'notification-service.events.dlq'));
    for (const x of [...d.exchanges, ...d.queues, ...d.bindings]) assert.equal(x.vhost, '/');
  });
});
