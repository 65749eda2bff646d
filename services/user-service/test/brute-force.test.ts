import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it, mock } from 'node:test';
import { eventually } from '@mdp/platform/testing';
import { Argon2Passwords } from '../src/adapters/passwords.js';
import { startUserService, type UserServiceHarness } from './harness.js';

/**
 * Issue 15, finding 3: login throttling must be atomic. An attempt is counted (in Redis, by
 * rate-limiter-flexible) before the password is verified, so concurrent guesses cannot slip
 * past the check. Each harness has its own database and Redis key prefix.
 */

let seq = 0;
const email = (tag: string) => `${tag}-${process.pid}-${Date.now()}-${++seq}@example.com`;
const PASSWORD = 'correct horse battery';

type Inject = Awaited<ReturnType<UserServiceHarness['app']['inject']>>;

async function register(h: UserServiceHarness, mail: string) {
  const r = await h.app.inject({
    method: 'POST',
    url: '/auth/register',
    payload: { email: mail, password: PASSWORD, name: 'Brute Force Target' },
  });
  assert.equal(r.statusCode, 201, r.body);
}

function login(h: UserServiceHarness, mail: string, password: string, ip: string): Promise<Inject> {
  return h.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email: mail, password },
    headers: { 'x-forwarded-for': ip },
  });
}

function statusCounts(responses: Inject[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const r of responses) counts[r.statusCode] = (counts[r.statusCode] ?? 0) + 1;
  return counts;
}

/** A 429 in the contract's shape with a usable Retry-After. */
function assertThrottled(r: Inject, maxSeconds: number) {
  assert.equal(r.statusCode, 429, r.body);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  const body = r.json() as { error: { code: string; message: string; requestId: string } };
  assert.equal(body.error.code, 'TOO_MANY_REQUESTS');
  assert.equal(typeof body.error.message, 'string');
  assert.equal(body.error.requestId, r.headers['x-request-id']);
  const retry = Number(r.headers['retry-after']);
  assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= maxSeconds, `Retry-After ${retry}`);
}

/** Counts every password verification (the domain's PasswordHasher port; dummyVerify goes through it). */
function spyOnVerification() {
  return mock.method(Argon2Passwords.prototype, 'verify');
}

describe('login brute force: attempts are consumed before the password is verified', () => {
  let h: UserServiceHarness;
  before(async () => {
    h = await startUserService({
      loginThrottle: { maxFailuresPerAccount: 5, maxFailuresPerIp: 10, blockSeconds: 900 },
    });
  });
  after(() => h.close());

  it('40 concurrent wrong passwords for one account: at most 5 reach verification, the rest are 429', async (t) => {
    const mail = email('target');
    await register(h, mail);
    const verify = spyOnVerification();
    try {
      // Distinct addresses: only the per-account limit applies.
      const responses = await Promise.all(
        Array.from({ length: 40 }, (_, i) => login(h, mail, `wrong password ${i}`, `10.40.0.${i + 1}`)),
      );
      const counts = statusCounts(responses);
      const verified = verify.mock.callCount();
      t.diagnostic(
        `brute force, one account: ${verified} of 40 reached verification; statuses ${JSON.stringify(counts)}`,
      );
      assert.ok(verified <= 5, `${verified} verifications`);
      assert.equal(counts[401] ?? 0, verified, 'every verified attempt is a 401');
      assert.equal((counts[401] ?? 0) + (counts[429] ?? 0), 40, JSON.stringify(counts));
      for (const r of responses.filter((x) => x.statusCode === 429)) assertThrottled(r, 900);
      // The right password is refused too while the account is blocked, without verification.
      const blocked = await login(h, mail, PASSWORD, '10.40.1.1');
      assertThrottled(blocked, 900);
      assert.equal(verify.mock.callCount(), verified, 'a blocked attempt is not verified');
    } finally {
      verify.mock.restore();
    }
  });

  it("another account is not blocked by one account's failures", async () => {
    const victim = email('victim');
    const bystander = email('bystander');
    await register(h, victim);
    await register(h, bystander);
    for (let i = 0; i < 6; i++) await login(h, victim, 'wrong password', `10.41.0.${i + 1}`);
    assertThrottled(await login(h, victim, PASSWORD, '10.41.1.1'), 900);
    // Same addresses as the attack, another account: an ordinary answer.
    assert.equal((await login(h, bystander, 'wrong password', '10.41.0.1')).statusCode, 401);
    assert.equal((await login(h, bystander, PASSWORD, '10.41.0.2')).statusCode, 200);
  });

  it('40 concurrent guesses from one IP across many accounts: at most the per-IP limit (10) are verified', async (t) => {
    const verify = spyOnVerification();
    try {
      const responses = await Promise.all(
        Array.from({ length: 40 }, (_, i) => login(h, email(`spray${i}`), 'wrong password', '10.42.0.1')),
      );
      const counts = statusCounts(responses);
      const verified = verify.mock.callCount();
      t.diagnostic(
        `brute force, one IP: ${verified} of 40 reached verification; statuses ${JSON.stringify(counts)}`,
      );
      assert.ok(verified <= 10, `${verified} verifications`);
      assert.equal((counts[401] ?? 0) + (counts[429] ?? 0), 40, JSON.stringify(counts));
      for (const r of responses.filter((x) => x.statusCode === 429)) assertThrottled(r, 900);
    } finally {
      verify.mock.restore();
    }
  });

  it('a success resets the account counter and does not use up the per-IP budget', async () => {
    const mail = email('regular');
    await register(h, mail);
    const ip = '10.43.0.1';
    // 12 successful sign-ins from one address (per-IP limit 10) with 4 failures between them.
    for (let i = 0; i < 12; i++) {
      if (i % 3 === 0) assert.equal((await login(h, mail, 'wrong password', ip)).statusCode, 401);
      assert.equal((await login(h, mail, PASSWORD, ip)).statusCode, 200);
    }
  });
});

describe('login brute force: the block window ends', () => {
  let h: UserServiceHarness;
  before(async () => {
    h = await startUserService({
      loginThrottle: { maxFailuresPerAccount: 5, maxFailuresPerIp: 1000, blockSeconds: 1 },
    });
  });
  after(() => h.close());

  it('a correct login after the block window is accepted', async () => {
    const mail = email('patient');
    await register(h, mail);
    // One after the other: five are verified (the 900 s window holds them), the sixth is refused
    // and starts the 1 s block.
    for (let i = 0; i < 5; i++)
      assert.equal((await login(h, mail, `wrong ${i}`, `10.44.0.${i + 1}`)).statusCode, 401);
    assertThrottled(await login(h, mail, 'wrong 5', '10.44.0.6'), 1);
    // The marker: the account's counter (block) has expired in Redis.
    const accountKey = `login-fail-account:${createHash('sha256').update(mail).digest('hex')}`;
    await eventually(async () => (await h.redis.exists(accountKey)) === 0, 10_000, 100);
    const res = await login(h, mail, PASSWORD, '10.44.1.1');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(typeof res.json().accessToken, 'string');
  });
});
