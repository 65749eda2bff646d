import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { signAccessToken, TOKEN_AUDIENCE, TOKEN_ISSUER, verifyAccessToken } from '@mdp/platform/auth';
import { OUTBOX_SQL } from '@mdp/platform/outbox';
import { Argon2Passwords } from '../src/adapters/passwords.js';
import { MIGRATIONS, startUserService, type UserServiceHarness } from './harness.js';

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

let h: UserServiceHarness;
let seq = 0;
/** A distinct client IP per test, so per-IP login counters do not leak between tests. */
const nextIp = () => `10.0.${Math.floor(++seq / 250)}.${seq % 250}`;
const email = (tag: string) => `${tag}-${Date.now()}-${++seq}@example.com`;

function expectError(
  res: { statusCode: number; json(): unknown; headers: Record<string, unknown> },
  status: number,
  code?: string,
) {
  assert.equal(
    res.statusCode,
    status,
    `expected ${status}, got ${res.statusCode}: ${JSON.stringify(res.json())}`,
  );
  const body = res.json() as { error: { code: string; message: string; requestId: string } };
  assert.equal(typeof body.error?.code, 'string');
  assert.equal(typeof body.error?.message, 'string');
  assert.equal(body.error.requestId, res.headers['x-request-id']);
  if (code) assert.equal(body.error.code, code);
  return body;
}

async function register(body: Record<string, unknown>) {
  return h.app.inject({ method: 'POST', url: '/auth/register', payload: body });
}
async function login(mail: string, password: string, ip = '10.9.9.9') {
  return h.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email: mail, password },
    headers: { 'x-forwarded-for': ip },
  });
}
async function newUser(tag = 'u', password = 'correct horse battery') {
  const mail = email(tag);
  const r = await register({ email: mail, password, name: 'Test User' });
  assert.equal(r.statusCode, 201, r.body);
  const l = await login(mail, password, nextIp());
  assert.equal(l.statusCode, 200, l.body);
  return { user: r.json(), tokens: l.json(), email: mail, password };
}
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

before(async () => {
  h = await startUserService({ loginThrottle: { maxFailuresPerAccount: 3, maxFailuresPerIp: 6 } });
});
after(() => h.close());

describe('register', () => {
  it('creates a customer with a normalised email and records user.registered in the outbox', async () => {
    const raw = `  Alice.${Date.now()}@Example.COM `;
    const res = await register({ email: raw, password: 'longenough1', name: '  Alice  ' });
    assert.equal(res.statusCode, 201);
    const body = res.json();
    assert.deepEqual(Object.keys(body).sort(), ['email', 'id', 'name', 'role']);
    assert.equal(body.email, raw.trim().toLowerCase());
    assert.equal(body.name, 'Alice');
    assert.equal(body.role, 'customer');
    assert.match(body.id, /^[0-9a-f-]{36}$/);
    const { rows } = await h.pool.query(
      "SELECT payload FROM outbox WHERE event_type = 'user.registered' AND payload->'data'->>'userId' = $1",
      [body.id],
    );
    assert.equal(rows.length, 1);
    const event = rows[0].payload;
    assert.equal(event.type, 'user.registered');
    assert.equal(event.source, 'user-service');
    assert.deepEqual(event.data, { userId: body.id, email: body.email, name: 'Alice' });
    // The password is stored only as an argon2id hash.
    const stored = await h.pool.query('SELECT password_hash FROM users WHERE id = $1', [body.id]);
    assert.match(stored.rows[0].password_hash, /^\$argon2id\$/);
  });

  it('refuses a taken email whatever its case or spacing (409), with no second event', async () => {
    const mail = email('dup');
    assert.equal((await register({ email: mail, password: 'longenough1', name: 'A' })).statusCode, 201);
    const again = await register({ email: ` ${mail.toUpperCase()}`, password: 'longenough2', name: 'B' });
    expectError(again, 409, 'EMAIL_TAKEN');
    const { rows } = await h.pool.query(
      "SELECT count(*)::int AS n FROM outbox WHERE payload->'data'->>'email' = $1",
      [mail],
    );
    assert.equal(rows[0].n, 1);
  });

  it('a race of registrations with one email gives exactly one 201, the rest 409, never a 500', async () => {
    const mail = email('race');
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        register({ email: i % 2 ? mail.toUpperCase() : mail, password: 'longenough1', name: `R${i}` }),
      ),
    );
    const codes = results.map((r) => r.statusCode).sort();
    assert.deepEqual(codes, [201, 409, 409, 409, 409, 409, 409, 409]);
    const { rows } = await h.pool.query('SELECT count(*)::int AS n FROM users WHERE email = $1', [mail]);
    assert.equal(rows[0].n, 1);
  });

  it('the database itself refuses a non-normalised or duplicate email', async () => {
    await assert.rejects(
      h.pool.query("INSERT INTO users (email, name, password_hash) VALUES ('Bob@Example.com', 'b', 'x')"),
      /users_email_normalised/,
    );
    await h.pool.query(
      "INSERT INTO users (email, name, password_hash) VALUES ('dbdup@example.com', 'b', 'x')",
    );
    await assert.rejects(
      h.pool.query("INSERT INTO users (email, name, password_hash) VALUES ('dbdup@example.com', 'c', 'y')"),
      /users_email_unique/,
    );
  });

  it('enforces password length (min and max) and valid input, each a 400 in the contract shape', async () => {
    const base = { email: email('v'), password: 'longenough1', name: 'V' };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, password: 'short' }, 'VALIDATION_FAILED'],
      [{ ...base, password: 'x'.repeat(129) }, 'VALIDATION_FAILED'],
      [{ ...base, password: 'p'.repeat(100_000) }, 'VALIDATION_FAILED'],
      [{ ...base, email: 'not-an-email' }, 'VALIDATION_FAILED'],
      [{ ...base, email: `${'a'.repeat(300)}@example.com` }, 'VALIDATION_FAILED'],
      [{ ...base, name: 'n'.repeat(101) }, 'VALIDATION_FAILED'],
      [{ ...base, name: '   ' }, 'VALIDATION_FAILED'],
      [{ ...base, email: 12345 }, 'VALIDATION_FAILED'],
      [{ ...base, password: ['longenough1'] }, 'VALIDATION_FAILED'],
      [{ ...base, role: 'admin' }, 'VALIDATION_FAILED'],
      [{ email: base.email, password: base.password }, 'VALIDATION_FAILED'],
    ];
    // Refused before any password is hashed: a huge password cannot burn CPU.
    const hashed = mock.method(Argon2Passwords.prototype, 'hash');
    try {
      for (const [body, code] of cases) expectError(await register(body), 400, code);
      assert.equal(hashed.mock.callCount(), 0, 'validation must not hash huge passwords');
    } finally {
      hashed.mock.restore();
    }
    // None of them created the account.
    const { rows } = await h.pool.query('SELECT count(*)::int AS n FROM users WHERE email = $1', [
      base.email,
    ]);
    assert.equal(rows[0].n, 0);
  });

  it('malformed JSON is a 400, an oversized body a 413, a non-JSON body a 415', async () => {
    const bad = await h.app.inject({
      method: 'POST',
      url: '/auth/register',
      headers: { 'content-type': 'application/json' },
      payload: '{"email": "a@b.c", "password": ',
    });
    expectError(bad, 400, 'INVALID_JSON');
    const proto = await h.app.inject({
      method: 'POST',
      url: '/auth/register',
      headers: { 'content-type': 'application/json' },
      payload: '{"email":"p@example.com","password":"longenough1","name":"x","__proto__":{"role":"admin"}}',
    });
    expectError(proto, 400);
    const huge = await h.app.inject({
      method: 'POST',
      url: '/auth/register',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ email: 'h@example.com', password: 'p'.repeat(2 * 1024 * 1024), name: 'h' }),
    });
    expectError(huge, 413, 'PAYLOAD_TOO_LARGE');
    const text = await h.app.inject({
      method: 'POST',
      url: '/auth/register',
      headers: { 'content-type': 'application/xml' },
      payload: '<user/>',
    });
    expectError(text, 415);
  });
});

describe('login', () => {
  it('returns a pair; the access token is an EdDSA JWT with sub, role, iat, exp (15 min), jti', async () => {
    const { user, tokens } = await newUser('login');
    assert.deepEqual(Object.keys(tokens).sort(), ['accessToken', 'expiresIn', 'refreshToken']);
    assert.equal(tokens.expiresIn, 900);
    assert.match(tokens.refreshToken, /^[A-Za-z0-9_-]{43}$/);
    const claims = await verifyAccessToken(tokens.accessToken, h.keys.publicKey);
    assert.equal(claims.sub, user.id);
    assert.equal(claims.role, 'customer');
    assert.equal(claims.exp - claims.iat, 900);
    const payload = JSON.parse(Buffer.from(tokens.accessToken.split('.')[1], 'base64url').toString());
    assert.equal(payload.iss, TOKEN_ISSUER);
    assert.equal(payload.aud, TOKEN_AUDIENCE);
    assert.equal(typeof payload.jti, 'string');
  });

  it('logs in with the email in any case; the refresh token is stored only hashed', async () => {
    const { email: mail, password, tokens } = await newUser('case');
    const res = await login(`  ${mail.toUpperCase()} `, password, nextIp());
    assert.equal(res.statusCode, 200);
    const keys = await h.redis.keys(`${h.redis.options.keyPrefix}*`);
    assert.ok(keys.length > 0);
    for (const k of keys)
      assert.ok(!k.includes(tokens.refreshToken), 'raw refresh token found in a Redis key');
  });

  it('wrong password and unknown email get the same 401 answer', async () => {
    const { email: mail } = await newUser('enum');
    const wrong = await login(mail, 'wrong password!', nextIp());
    const unknown = await login(email('nobody'), 'wrong password!', nextIp());
    const a = expectError(wrong, 401, 'UNAUTHORIZED');
    const b = expectError(unknown, 401, 'UNAUTHORIZED');
    assert.equal(a.error.message, b.error.message);
    assert.equal(wrong.headers['content-length'], unknown.headers['content-length']);
  });

  it('blocks an account after repeated failures (429 + Retry-After), even with the right password', async () => {
    const { email: mail, password } = await newUser('lock');
    for (let i = 0; i < 3; i++) expectError(await login(mail, 'bad password', nextIp()), 401);
    const blocked = await login(mail, password, nextIp());
    expectError(blocked, 429, 'TOO_MANY_REQUESTS');
    const retry = Number(blocked.headers['retry-after']);
    assert.ok(retry > 0 && retry <= 15 * 60, `Retry-After ${retry}`);
  });

  it('treats an unknown email exactly like a known one when blocking', async () => {
    const ghost = email('ghost');
    for (let i = 0; i < 3; i++) expectError(await login(ghost, 'bad password', nextIp()), 401);
    expectError(await login(ghost, 'bad password', nextIp()), 429, 'TOO_MANY_REQUESTS');
  });

  it('a success resets the account counter', async () => {
    const { email: mail, password } = await newUser('reset');
    for (let i = 0; i < 2; i++) expectError(await login(mail, 'bad password', nextIp()), 401);
    assert.equal((await login(mail, password, nextIp())).statusCode, 200);
    for (let i = 0; i < 2; i++) expectError(await login(mail, 'bad password', nextIp()), 401);
    assert.equal((await login(mail, password, nextIp())).statusCode, 200);
  });

  it('blocks an IP that fails across many accounts', async () => {
    const ip = nextIp();
    for (let i = 0; i < 6; i++) expectError(await login(email('spray'), 'bad password', ip), 401);
    const { email: mail, password } = await newUser('victim');
    expectError(await login(mail, password, ip), 429, 'TOO_MANY_REQUESTS');
    // The same account from another address still works.
    assert.equal((await login(mail, password, nextIp())).statusCode, 200);
  });

  it('refuses wrong types and unknown fields with 400', async () => {
    for (const payload of [
      { email: 'a@example.com' },
      { email: 1, password: 'x' },
      { email: 'a@example.com', password: 'p'.repeat(129) },
      { email: 'a@example.com', password: 'longenough1', admin: true },
    ]) {
      expectError(
        await h.app.inject({ method: 'POST', url: '/auth/login', payload }),
        400,
        'VALIDATION_FAILED',
      );
    }
  });
});

describe('refresh tokens', () => {
  const refresh = (refreshToken: string) =>
    h.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } });

  it('rotates: a new pair, and the old refresh token stops working', async () => {
    const { tokens, user } = await newUser('rot');
    const r1 = await refresh(tokens.refreshToken);
    assert.equal(r1.statusCode, 200);
    const pair = r1.json();
    assert.notEqual(pair.refreshToken, tokens.refreshToken);
    assert.equal((await verifyAccessToken(pair.accessToken, h.keys.publicKey)).sub, user.id);
    expectError(await refresh(tokens.refreshToken), 401, 'UNAUTHORIZED');
  });

  it('replaying a rotated token revokes the whole family (reuse detection)', async () => {
    const { tokens } = await newUser('reuse');
    const second = (await refresh(tokens.refreshToken)).json().refreshToken;
    const third = (await refresh(second)).json().refreshToken;
    // An attacker replays the first token...
    expectError(await refresh(tokens.refreshToken), 401);
    // ...and the legitimate client's current token is now dead as well.
    expectError(await refresh(third), 401);
  });

  it('two concurrent uses of one token: at most one succeeds, and the family ends revoked', async () => {
    const { tokens } = await newUser('concurrent');
    const results = await Promise.all([refresh(tokens.refreshToken), refresh(tokens.refreshToken)]);
    const ok = results.filter((r) => r.statusCode === 200);
    assert.ok(ok.length <= 1);
    for (const r of ok) expectError(await refresh(r.json().refreshToken), 401);
  });

  it('refuses unknown, malformed and oversized refresh tokens', async () => {
    expectError(await refresh('A'.repeat(43)), 401);
    expectError(await refresh('short'), 400, 'VALIDATION_FAILED');
    expectError(await refresh('x'.repeat(10_000)), 400, 'VALIDATION_FAILED');
    expectError(
      await h.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: 42 } }),
      400,
      'VALIDATION_FAILED',
    );
  });

  it('stores tokens with a TTL', async () => {
    await newUser('ttl');
    const prefix = String(h.redis.options.keyPrefix);
    const keys = (await h.redis.keys(`${prefix}rt:*`)).map((k) => k.slice(prefix.length));
    assert.ok(keys.length > 0);
    for (const k of keys.slice(0, 5)) {
      const ttl = await h.redis.ttl(k);
      assert.ok(ttl > 0 && ttl <= 7 * 24 * 3600, `ttl ${ttl}`);
    }
  });

  it('logout (signed in) revokes the refresh token and its family; 401 without a token', async () => {
    const { tokens } = await newUser('logout');
    const unauth = await h.app.inject({
      method: 'POST',
      url: '/auth/logout',
      payload: { refreshToken: tokens.refreshToken },
    });
    expectError(unauth, 401);
    const out = await h.app.inject({
      method: 'POST',
      url: '/auth/logout',
      payload: { refreshToken: tokens.refreshToken },
      headers: bearer(tokens.accessToken),
    });
    assert.equal(out.statusCode, 204);
    assert.equal(out.body, '');
    expectError(await refresh(tokens.refreshToken), 401);
  });

  it("logout cannot revoke someone else's refresh token", async () => {
    const victim = await newUser('victim2');
    const attacker = await newUser('attacker');
    const res = await h.app.inject({
      method: 'POST',
      url: '/auth/logout',
      payload: { refreshToken: victim.tokens.refreshToken },
      headers: bearer(attacker.tokens.accessToken),
    });
    assert.equal(res.statusCode, 204);
    assert.equal((await refresh(victim.tokens.refreshToken)).statusCode, 200);
  });
});

describe('password change (POST /users/me/password)', () => {
  const change = (token: string, body: Record<string, unknown>, ip = nextIp()) =>
    h.app.inject({
      method: 'POST',
      url: '/users/me/password',
      headers: { ...bearer(token), 'x-forwarded-for': ip },
      payload: body,
    });
  const refresh = (refreshToken: string) =>
    h.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } });

  it('needs the current password; afterwards only the new one signs in and every session is revoked', async () => {
    const { email: mail, password, tokens } = await newUser('pwchange');
    const second = (await login(mail, password, nextIp())).json();
    expectError(
      await change(tokens.accessToken, {
        currentPassword: 'not the password',
        newPassword: 'brand new secret',
      }),
      403,
      'FORBIDDEN',
    );
    const ok = await change(tokens.accessToken, {
      currentPassword: password,
      newPassword: 'brand new secret',
    });
    assert.equal(ok.statusCode, 204, ok.body);
    expectError(await login(mail, password, nextIp()), 401);
    const fresh = await login(mail, 'brand new secret', nextIp());
    assert.equal(fresh.statusCode, 200);
    // Both sessions opened before the change are over; the one after it works.
    expectError(await refresh(tokens.refreshToken), 401);
    expectError(await refresh(second.refreshToken), 401);
    assert.equal((await refresh(fresh.json().refreshToken)).statusCode, 200);
  });

  it('refuses a new password outside the rules, a missing token, and is throttled like a sign-in', async () => {
    const { password, tokens } = await newUser('pwrules');
    expectError(await change(tokens.accessToken, { currentPassword: password, newPassword: 'short' }), 400);
    expectError(
      await h.app.inject({
        method: 'POST',
        url: '/users/me/password',
        payload: { currentPassword: password, newPassword: 'brand new secret' },
      }),
      401,
    );
    // maxFailuresPerAccount is 3 in this suite: the 4th guess is refused before any check.
    for (let i = 0; i < 3; i++)
      expectError(
        await change(tokens.accessToken, { currentPassword: `guess ${i}`, newPassword: 'brand new secret' }),
        403,
      );
    const blocked = await change(tokens.accessToken, {
      currentPassword: password,
      newPassword: 'brand new secret',
    });
    expectError(blocked, 429, 'TOO_MANY_REQUESTS');
    assert.ok(Number(blocked.headers['retry-after']) > 0);
  });
});

describe('users/me', () => {
  it('GET returns the caller; PATCH changes the name only', async () => {
    const { tokens, user } = await newUser('me');
    const me = await h.app.inject({ url: '/users/me', headers: bearer(tokens.accessToken) });
    assert.equal(me.statusCode, 200);
    assert.deepEqual(me.json(), user);
    const patched = await h.app.inject({
      method: 'PATCH',
      url: '/users/me',
      headers: bearer(tokens.accessToken),
      payload: { name: 'New Name' },
    });
    assert.equal(patched.statusCode, 200);
    assert.deepEqual(patched.json(), { ...user, name: 'New Name' });
    for (const payload of [
      { name: 'x', role: 'admin' },
      { email: 'new@example.com' },
      { name: 5 },
      { name: 'n'.repeat(101) },
    ]) {
      const res = await h.app.inject({
        method: 'PATCH',
        url: '/users/me',
        headers: bearer(tokens.accessToken),
        payload,
      });
      expectError(res, 400, 'VALIDATION_FAILED');
    }
    const again = await h.app.inject({ url: '/users/me', headers: bearer(tokens.accessToken) });
    assert.deepEqual(again.json(), { ...user, name: 'New Name' });
  });

  it('refuses tampered, expired, foreign-key and alg:none tokens, and spoofed identity headers', async () => {
    const { tokens, user } = await newUser('attack');
    const [hh, p, s] = tokens.accessToken.split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const tampered = `${hh}.${b64url({ ...payload, role: 'admin' })}.${s}`;
    const expired = (
      await signAccessToken({ id: user.id, role: 'customer' }, h.keys.privateKey, {
        now: Date.now() - 3600_000,
      })
    ).token;
    const { generateSigningKeys } = await import('@mdp/platform/auth');
    const foreign = (
      await signAccessToken({ id: user.id, role: 'customer' }, (await generateSigningKeys()).privateKey)
    ).token;
    const none = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(payload)}.`;
    for (const t of [tampered, expired, foreign, none]) {
      expectError(await h.app.inject({ url: '/users/me', headers: bearer(t) }), 401, 'UNAUTHORIZED');
    }
    const spoof = await h.app.inject({
      url: '/users/me',
      headers: { 'x-user-id': user.id, 'x-user-role': 'admin' },
    });
    expectError(spoof, 401);
  });
});

describe('service surface', () => {
  it('documents its routes in /openapi.json', async () => {
    const res = await h.app.inject({ url: '/openapi.json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json();
    assert.equal(doc.openapi, '3.0.3');
    for (const p of ['/auth/register', '/auth/login', '/auth/refresh', '/auth/logout', '/users/me'])
      assert.ok(doc.paths[p], `missing ${p}`);
    assert.ok(doc.paths['/users/me'].patch);
    assert.ok(doc.paths['/auth/register'].post.requestBody);
    assert.ok(!doc.paths['/openapi.json']);
  });

  it('is ready with PostgreSQL and Redis', async () => {
    const res = await h.app.inject({ url: '/readyz' });
    assert.equal(res.statusCode, 200, res.body);
  });

  it('the outbox migration is the platform OUTBOX_SQL', () => {
    const sql = readFileSync(path.join(MIGRATIONS, '0002_outbox.sql'), 'utf8');
    const up = sql.split('-- Up Migration')[1]?.split('-- Down Migration')[0] ?? '';
    const norm = (s: string) =>
      s
        .split('\n')
        .filter((l) => !l.trim().startsWith('--'))
        .join(' ')
        .replace(/\s+/g, ' ')
        .trim();
    assert.equal(norm(up), norm(OUTBOX_SQL));
  });
});
