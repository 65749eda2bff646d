import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normaliseEmail, validEmail } from './users.js';

describe('email rules', () => {
  it('normalises by trimming and lower-casing only', () => {
    assert.equal(normaliseEmail('  Alice.Smith+Shop@Example.COM\t'), 'alice.smith+shop@example.com');
    assert.equal(normaliseEmail('a@b.co'), 'a@b.co');
  });

  it('accepts ordinary addresses and refuses malformed or oversized ones', () => {
    for (const ok of ['a@b.co', 'first.last+tag@sub.example.org', 'x_y-z@ex-ample.io'])
      assert.ok(validEmail(ok), ok);
    for (const bad of [
      '',
      'plain',
      '@example.com',
      'a@',
      'a@b',
      'a@@b.com',
      'a b@example.com',
      'a@exa mple.com',
      'a@example..com',
      `${'a'.repeat(250)}@example.com`,
    ])
      assert.ok(!validEmail(bad), JSON.stringify(bad));
  });
});
