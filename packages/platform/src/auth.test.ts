import assert from 'node:assert/strict';
import { createHmac, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it, mock } from 'node:test';
import { Type } from '@sinclair/typebox';
import { SignJWT } from 'jose';
import {
  authenticate,
  bearerToken,
  generateSigningKeys,
  InvalidTokenError,
  importPrivateKey,
  importPublicKey,
  keyIdOf,
  MAX_ACCESS_TOKEN_TTL_SECONDS,
  requireRole,
  signAccessToken,
  TOKEN_AUDIENCE,
  TOKEN_ISSUER,
  verifyAccessToken,
} from './auth.js';
import { Health } from './health.js';
import { createHttpApp, type HttpApp } from './http.js';
import { createLogger } from './logger.js';
import { Metrics } from './metrics.js';

const b64url = (v: unknown) =>
  Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
/** A token with every claim our verifier wants, signed with `alg` (the signature is the test's). */
const wellFormed = (claims: Record<string, unknown>, alg: string) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg, typ: 'at+jwt' })
    .setSubject('u')
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('5m')
    .setJti('j');

const now = () => Math.floor(Date.now() / 1000);
const goodClaims = () => ({
  sub: 'u-1',
  role: 'customer',
  iss: TOKEN_ISSUER,
  aud: TOKEN_AUDIENCE,
  iat: now(),
  exp: now() + 900,
  jti: 'j-1',
});

let keys: { privateKey: string; publicKey: string };
let other: { privateKey: string; publicKey: string };

before(async () => {
  keys = await generateSigningKeys();
  other = await generateSigningKeys();
});

async function rejectsWith(p: Promise<unknown>, reason?: InvalidTokenError['reason']) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof InvalidTokenError, `expected InvalidTokenError, got ${err}`);
    assert.equal(err.statusCode, 401);
    if (reason) assert.equal(err.reason, reason);
    return true;
  });
}

describe('verifyAccessToken', () => {
  it('accepts a token signed by signAccessToken and returns its claims', async () => {
    const { token, claims } = await signAccessToken({ id: 'u-42', role: 'admin' }, keys.privateKey);
    const got = await verifyAccessToken(token, keys.publicKey);
    assert.deepEqual(got, claims);
    assert.equal(got.sub, 'u-42');
    assert.equal(got.role, 'admin');
    assert.equal(got.exp - got.iat, 15 * 60);
    assert.match(got.jti, /^[0-9a-f-]{36}$/);
    const [header] = token.split('.');
    assert.deepEqual(JSON.parse(Buffer.from(header ?? '', 'base64url').toString()), {
      alg: 'EdDSA',
      typ: 'at+jwt',
      // RFC 7638 thumbprint of the signing key's public half.
      kid: await keyIdOf(createPublicKey(keys.publicKey)),
    });
  });

  it('refuses a token signed with another key', async () => {
    const { token } = await signAccessToken({ id: 'u', role: 'customer' }, other.privateKey);
    await rejectsWith(verifyAccessToken(token, keys.publicKey), 'invalid');
  });

  it('refuses a tampered payload (role escalated)', async () => {
    const { token } = await signAccessToken({ id: 'u', role: 'customer' }, keys.privateKey);
    const [h, p, s] = token.split('.');
    const payload = JSON.parse(Buffer.from(p ?? '', 'base64url').toString());
    payload.role = 'admin';
    await rejectsWith(verifyAccessToken(`${h}.${b64url(payload)}.${s}`, keys.publicKey));
  });

  it('refuses an expired token', async () => {
    const { token } = await signAccessToken({ id: 'u', role: 'customer' }, keys.privateKey, {
      now: Date.now() - 20 * 60 * 1000,
    });
    await rejectsWith(verifyAccessToken(token, keys.publicKey), 'expired');
  });

  it('a token verified before (kept by the verifier) is still refused once it expires', async () => {
    const { token, claims } = await signAccessToken({ id: 'u-7', role: 'customer' }, keys.privateKey, {
      ttlSeconds: 60,
    });
    assert.deepEqual(await verifyAccessToken(token, keys.publicKey), claims);
    assert.deepEqual(await verifyAccessToken(token, keys.publicKey), claims);
    mock.timers.enable({ apis: ['Date'], now: (claims.exp + 6) * 1000 });
    try {
      await rejectsWith(verifyAccessToken(token, keys.publicKey), 'expired');
    } finally {
      mock.timers.reset();
    }
    // Another key does not accept it because this one did.
    await rejectsWith(verifyAccessToken(token, other.publicKey), 'invalid');
  });

  it('refuses alg:none (unsigned) tokens', async () => {
    const token = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(goodClaims())}.`;
    await rejectsWith(verifyAccessToken(token, keys.publicKey));
    const noSig = `${b64url({ alg: 'none' })}.${b64url(goodClaims())}`;
    await rejectsWith(verifyAccessToken(noSig, keys.publicKey));
  });

  it('refuses algorithm confusion: HS256 with the public key PEM as HMAC secret', async () => {
    const h = b64url({ alg: 'HS256', typ: 'JWT' });
    const p = b64url(goodClaims());
    const sig = createHmac('sha256', keys.publicKey).update(`${h}.${p}`).digest('base64url');
    await rejectsWith(verifyAccessToken(`${h}.${p}.${sig}`, keys.publicKey));
  });

  it('refuses a token of another asymmetric algorithm (RS256)', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const token = await wellFormed({ role: 'admin' }, 'RS256').sign(rsa.privateKey);
    await rejectsWith(verifyAccessToken(token, keys.publicKey));
  });

  it('refuses wrong issuer, wrong audience and missing claims', async () => {
    const { importPrivateKey } = await import('./auth.js');
    const sk = await importPrivateKey(keys.privateKey);
    const build = (mut: (j: SignJWT) => SignJWT) =>
      mut(
        new SignJWT({ role: 'customer' }).setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt' }).setSubject('u'),
      )
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(sk);
    await rejectsWith(
      verifyAccessToken(
        await build((j) => j.setIssuer('evil').setAudience(TOKEN_AUDIENCE).setJti('1')),
        keys.publicKey,
      ),
    );
    await rejectsWith(
      verifyAccessToken(
        await build((j) => j.setIssuer(TOKEN_ISSUER).setAudience('other').setJti('1')),
        keys.publicKey,
      ),
    );
    await rejectsWith(
      verifyAccessToken(
        await build((j) => j.setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE)),
        keys.publicKey,
      ),
    );
    // An unknown role is refused even with a valid signature.
    const weird = await wellFormed({ role: 'root' }, 'EdDSA').sign(sk);
    await rejectsWith(verifyAccessToken(weird, keys.publicKey));
  });

  it('refuses a token of another type (typ not at+jwt), even well signed', async () => {
    const { importPrivateKey } = await import('./auth.js');
    const sk = await importPrivateKey(keys.privateKey);
    const typed = (typ?: string) =>
      new SignJWT({ role: 'customer' })
        .setProtectedHeader(typ ? { alg: 'EdDSA', typ } : { alg: 'EdDSA' })
        .setSubject('u')
        .setIssuer(TOKEN_ISSUER)
        .setAudience(TOKEN_AUDIENCE)
        .setJti('j')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(sk);
    assert.equal((await verifyAccessToken(await typed('at+jwt'), keys.publicKey)).sub, 'u');
    await rejectsWith(verifyAccessToken(await typed('JWT'), keys.publicKey));
    await rejectsWith(verifyAccessToken(await typed(), keys.publicKey));
  });

  it('bounds the lifetime: no token beyond MAX_ACCESS_TOKEN_TTL_SECONDS is signed or accepted', async () => {
    const { importPrivateKey } = await import('./auth.js');
    const sk = await importPrivateKey(keys.privateKey);
    const user = { id: 'u', role: 'customer' as const };
    await assert.rejects(
      signAccessToken(user, sk, { ttlSeconds: MAX_ACCESS_TOKEN_TTL_SECONDS + 1 }),
      RangeError,
    );
    const atMax = await signAccessToken(user, sk, { ttlSeconds: MAX_ACCESS_TOKEN_TTL_SECONDS });
    assert.equal((await verifyAccessToken(atMax.token, keys.publicKey)).sub, 'u');
    const long = await new SignJWT({ role: 'customer' })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt' })
      .setSubject('u')
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setJti('j')
      .setIssuedAt()
      .setExpirationTime('1d')
      .sign(sk);
    await rejectsWith(verifyAccessToken(long, keys.publicKey), 'invalid');
  });

  it('refuses garbage', async () => {
    for (const t of ['', 'abc', 'a.b.c', 'a.b', '....'])
      await rejectsWith(verifyAccessToken(t, keys.publicKey));
  });

  it('will not import a non-Ed25519 public key', async () => {
    const rsaPem = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    await assert.rejects(importPublicKey(rsaPem));
    await assert.rejects(importPublicKey('not a pem'));
  });
});

describe('bearerToken', () => {
  it('extracts only well-formed bearer tokens', () => {
    assert.equal(bearerToken('Bearer abc.def.ghi'), 'abc.def.ghi');
    assert.equal(bearerToken('bearer abc.def.ghi'), 'abc.def.ghi');
    assert.equal(bearerToken(undefined), undefined);
    assert.equal(bearerToken('Basic dXNlcjpwYXNz'), undefined);
    assert.equal(bearerToken('Bearer'), undefined);
    assert.equal(bearerToken('Bearer a b'), undefined);
  });
});

describe('authenticate / requireRole in a Fastify app', () => {
  let app: HttpApp;
  before(async () => {
    const logger = createLogger({ service: 'auth-test', level: 'silent' });
    const metrics = new Metrics({ version: 't', commit: 't' }, { defaultMetrics: false });
    app = createHttpApp({
      logger,
      metrics,
      health: new Health(),
      info: { service: 'auth-test', version: 't', commit: 't' },
    });
    const auth = authenticate(keys.publicKey);
    const Me = Type.Object({ id: Type.String(), role: Type.String() });
    app.get('/me', { preHandler: auth, schema: { response: { 200: Me } } }, async (req) => req.user);
    app.get(
      '/admin',
      { preHandler: [auth, requireRole('admin')], schema: { response: { 200: Me } } },
      async (req) => req.user,
    );
    app.get('/no-auth-admin', { preHandler: requireRole('admin'), schema: {} }, async () => ({ ok: true }));
    await app.ready();
  });
  after(() => app.close());

  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

  it('sets request.user from a valid token', async () => {
    const { token } = await signAccessToken({ id: 'u-7', role: 'customer' }, keys.privateKey);
    const res = await app.inject({ url: '/me', headers: bearer(token) });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { id: 'u-7', role: 'customer' });
  });

  it('answers 401 in the contract shape without or with a bad token', async () => {
    const expired = (
      await signAccessToken({ id: 'u', role: 'customer' }, keys.privateKey, { now: Date.now() - 3600_000 })
    ).token;
    const none = `${b64url({ alg: 'none' })}.${b64url(goodClaims())}.`;
    for (const headers of [
      {},
      bearer('x.y.z'),
      bearer(expired),
      bearer(none),
      { authorization: 'Basic Zm9v' },
    ]) {
      const res = await app.inject({ url: '/me', headers: { ...headers, 'x-request-id': 'req-1' } });
      assert.equal(res.statusCode, 401);
      const body = res.json();
      assert.equal(body.error.code, 'UNAUTHORIZED');
      assert.equal(body.error.requestId, 'req-1');
      assert.equal(typeof body.error.message, 'string');
      assert.match(String(res.headers['www-authenticate']), /^Bearer/);
    }
  });

  it('ignores identity headers a client sends itself', async () => {
    const res = await app.inject({ url: '/me', headers: { 'x-user-id': 'admin-1', 'x-user-role': 'admin' } });
    assert.equal(res.statusCode, 401);
  });

  it('requireRole: 403 for a customer, 200 for an admin, 401 with no user', async () => {
    const customer = (await signAccessToken({ id: 'c', role: 'customer' }, keys.privateKey)).token;
    const admin = (await signAccessToken({ id: 'a', role: 'admin' }, keys.privateKey)).token;
    const r1 = await app.inject({ url: '/admin', headers: bearer(customer) });
    assert.equal(r1.statusCode, 403);
    assert.equal(r1.json().error.code, 'FORBIDDEN');
    const r2 = await app.inject({ url: '/admin', headers: bearer(admin) });
    assert.equal(r2.statusCode, 200);
    assert.deepEqual(r2.json(), { id: 'a', role: 'admin' });
    const r3 = await app.inject({ url: '/no-auth-admin' });
    assert.equal(r3.statusCode, 401);
  });
});

describe('key rotation: kid and a key set', () => {
  it('signs with a kid; a verifier holding the old and the new key accepts both, then only the new one', async () => {
    const old = await signAccessToken({ id: 'u-old', role: 'customer' }, keys.privateKey);
    const fresh = await signAccessToken({ id: 'u-new', role: 'customer' }, other.privateKey);
    const kidOf = (t: string) =>
      JSON.parse(Buffer.from(t.split('.')[0] as string, 'base64url').toString()).kid;
    assert.match(kidOf(old.token), /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(kidOf(old.token), kidOf(fresh.token));
    // During the rotation JWT_PUBLIC_KEY holds both PEMs (new first, old after).
    const both = `${other.publicKey.trim()}\n${keys.publicKey.trim()}`;
    assert.equal((await verifyAccessToken(old.token, both)).sub, 'u-old');
    assert.equal((await verifyAccessToken(fresh.token, both)).sub, 'u-new');
    // The old key removed: its tokens are refused, nobody else is signed out.
    await rejectsWith(verifyAccessToken(old.token, other.publicKey), 'invalid');
    assert.equal((await verifyAccessToken(fresh.token, other.publicKey)).sub, 'u-new');
  });

  it('a kid of no key in the set is refused; a token without kid is tried against each key', async () => {
    const both = `${other.publicKey.trim()}\n${keys.publicKey.trim()}`;
    const unknown = await new SignJWT({ role: 'customer' })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: 'not-a-key-of-ours' })
      .setSubject('u-x')
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('5m')
      .setJti('j-kid')
      .sign(await importPrivateKey(keys.privateKey));
    await rejectsWith(verifyAccessToken(unknown, both), 'invalid');
    const noKid = await new SignJWT({ role: 'customer' })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt' })
      .setSubject('u-y')
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('5m')
      .setJti('j-nokid')
      .sign(await importPrivateKey(keys.privateKey));
    assert.equal((await verifyAccessToken(noKid, both)).sub, 'u-y');
  });
});
