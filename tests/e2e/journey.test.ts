/**
 * The whole journey through the gateway only, with all five services as real processes:
 * register → login → browse and search → order → order visible → notification visible →
 * cancel → stock restored; plus trace continuity across HTTP hops and the broker.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { eventually } from '@mdp/platform/testing';
import { type Api, gatewayApi, journeyHelpers, shopJourney } from './journey.js';
import { startOtlpReceiver } from './otlp-receiver.js';
import { type Stack, startStack } from './stack.js';

describe('the shop end to end, through the gateway', { timeout: 300_000 }, () => {
  let stack: Stack;
  let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let api: Api;
  let json: ReturnType<typeof journeyHelpers>['json'];
  let signUp: ReturnType<typeof journeyHelpers>['signUp'];

  before(async () => {
    otlp = await startOtlpReceiver();
    stack = await startStack({ otlpEndpoint: otlp.endpoint });
    api = gatewayApi(stack.gateway);
    ({ json, signUp } = journeyHelpers(api));
  });

  after(async () => {
    await stack?.stop();
    await otlp?.close();
  });

  test('register → login → browse/search → order → visible → notified → cancel → stock restored', () =>
    shopJourney(stack.gateway));

  test('one order request is one trace: gateway → order-service → product-service, and the consume span', async () => {
    const { token } = await signUp();
    const products = await json<{ items: { id: string }[] }>(
      await api('/api/products?category=accessories'),
      200,
    );
    const productId = products.items[0]?.id as string;
    // The client starts the trace, so the test knows its id.
    const traceId = randomBytes(16).toString('hex');
    const res = await api('/api/orders', {
      method: 'POST',
      token,
      headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
      body: JSON.stringify({ items: [{ productId, quantity: 1 }] }),
    });
    await json(res, 201);
    const inTrace = () => otlp.spans.filter((s) => s.traceId === traceId);
    // Each service exports its spans in its own batches: wait until the trace has arrived, up to
    // the consume span's parent (the publish span the outbox relay makes in order-service). A
    // consume span outside the trace, or whose parent never comes, still fails below.
    const consumeParentArrived = () => {
      const consume = inTrace().find((s) => s.service === 'notification-service' && s.kind === 5);
      return Boolean(consume?.parentSpanId) && inTrace().some((s) => s.spanId === consume?.parentSpanId);
    };
    await eventually(
      () => {
        const services = new Set(inTrace().map((s) => s.service));
        return (
          ['api-gateway', 'order-service', 'product-service', 'notification-service'].every((s) =>
            services.has(s),
          ) && consumeParentArrived()
        );
      },
      20_000,
      250,
    ).catch((err) => {
      const seen = inTrace().map((s) => `${s.service}:${s.kind}:${s.name}`);
      throw new Error(`${err.message}; spans in the trace: ${JSON.stringify(seen)}`);
    });
    const spans = inTrace();
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    // Every span of the trace hangs off another span of the same trace (or the client's root).
    const orphans = spans.filter((s) => s.parentSpanId && !byId.has(s.parentSpanId));
    assert.ok(
      orphans.length <= 1,
      `one root only: ${JSON.stringify(orphans.map((s) => `${s.service}:${s.name}`))}`,
    );
    // The consume span descends from the order request.
    const consume = spans.find((s) => s.service === 'notification-service' && s.kind === 5);
    const ancestors: string[] = [];
    for (let s = consume; s?.parentSpanId; s = byId.get(s.parentSpanId))
      ancestors.push(byId.get(s.parentSpanId)?.service ?? '?');
    assert.ok(ancestors.includes('order-service'), `consume span's ancestors: ${ancestors.join(' < ')}`);
    assert.ok(ancestors.includes('api-gateway'), `consume span's ancestors: ${ancestors.join(' < ')}`);
    const productServer = spans.find((s) => s.service === 'product-service' && s.kind === 2);
    assert.ok(productServer, 'product-service served the reservation inside the trace');
  });
});
