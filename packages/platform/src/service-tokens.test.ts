import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { generateSigningKeys, signAccessToken } from './auth.js';
import {
  MAX_SERVICE_TOKEN_TTL_SECONDS,
  ServiceTokenError,
  ServiceTokenSigner,
  signServiceToken,
  verifyServiceToken,
} from './service-tokens.js';

let keys: { privateKey: string; publicKey: string };
let other: { privateKey: string; publicKey: string };
const verify = (token: string, allowedCallers = ['order-service'], audience = 'product-service') =>
  verifyServiceToken(token, { publicKey: keys.publicKey, audience, allowedCallers });
const refused = (status: number, reason: string) => (err: unknown) =>
  err instanceof ServiceTokenError && err.statusCode === status && err.reason === reason;

before(async () => {
  keys = await generateSigningKeys();
  other = await generateSigningKeys();
});

describe('service tokens', () => {
  test('a token of an allowed caller for this audience names the caller', async () => {
    const { token } = await signServiceToken({
      service: 'order-service',
      audience: 'product-service',
      privateKey: keys.privateKey,
    });
    assert.equal(await verify(token), 'order-service');
  });

  test('refused: another audience, a caller not allowed (403), another key, expired, too long-lived', async () => {
    const sign = (o: Partial<Parameters<typeof signServiceToken>[0]> = {}) =>
      signServiceToken({
        service: 'order-service',
        audience: 'product-service',
        privateKey: keys.privateKey,
        ...o,
      });
    await assert.rejects(verify((await sign({ audience: 'user-service' })).token), refused(401, 'invalid'));
    await assert.rejects(
      verify((await sign({ service: 'api-gateway' })).token),
      refused(403, 'caller-not-allowed'),
    );
    await assert.rejects(
      verify((await sign({ privateKey: other.privateKey })).token),
      refused(401, 'invalid'),
    );
    const old = await sign({ now: Date.now() - 10 * 60_000 });
    await assert.rejects(verify(old.token), refused(401, 'expired'));
    await assert.rejects(sign({ ttlSeconds: MAX_SERVICE_TOKEN_TTL_SECONDS + 1 }), RangeError);
  });

  test("a user's access token (at+jwt, audience mdp) is not a service credential, even signed by the same key", async () => {
    const { token } = await signAccessToken({ id: 'order-service', role: 'admin' }, keys.privateKey);
    await assert.rejects(verify(token, ['order-service'], 'mdp'), refused(401, 'invalid'));
    await assert.rejects(verify(token), refused(401, 'invalid'));
  });

  test('the signer reuses a token within half its lifetime', async () => {
    const signer = new ServiceTokenSigner({
      service: 'order-service',
      audience: 'product-service',
      privateKey: keys.privateKey,
    });
    const a = await signer.token();
    assert.equal(await signer.token(), a);
    assert.equal(await verify(a), 'order-service');
  });

  test("a key set (the caller's key rotating): tokens of the old and the new key both verify", async () => {
    const both = `${other.publicKey.trim()}\n${keys.publicKey.trim()}`;
    const opts = { publicKey: both, audience: 'product-service', allowedCallers: ['order-service'] };
    const sign = (privateKey: string) =>
      signServiceToken({ service: 'order-service', audience: 'product-service', privateKey });
    for (const k of [keys, other])
      assert.equal(await verifyServiceToken((await sign(k.privateKey)).token, opts), 'order-service');
    const stranger = await generateSigningKeys();
    await assert.rejects(
      verifyServiceToken((await sign(stranger.privateKey)).token, opts),
      refused(401, 'invalid'),
    );
  });
});
