import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unsafeUpstreamPath, upstreamPath } from './routing.js';

test('unsafeUpstreamPath: public paths pass; /internal, dot and empty segments refused at any decoding depth', () => {
  for (const ok of [
    '/products',
    '/products/00000000-0000-4000-8000-000000000101',
    '/orders/abc/cancel',
    '/auth/login',
  ])
    assert.equal(unsafeUpstreamPath(ok), false, ok);
  for (const bad of [
    '/internal/reservations',
    '/INTERNAL/reservations',
    '/products/../internal/reservations',
    '/products/%2e%2e/internal/reservations',
    '/products/%252e%252e/internal/reservations',
    '/products/%25252e%25252e/internal/reservations',
    '/products/..%2finternal',
    '/products/..%5cinternal',
    '/products/..;/internal',
    '/products/./x',
    '//internal/reservations',
    '/products//x',
    '/products/%E0%A4%A',
  ])
    assert.equal(unsafeUpstreamPath(bad), true, bad);
  assert.equal(upstreamPath('/api/products/%252e%252e/internal?x=1'), '/products/%252e%252e/internal');
});
