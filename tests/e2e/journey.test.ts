/**
 * The whole journey through the gateway only, with all five services as real processes:
 * register → login → browse and search → order → order visible → notification visible →
 * cancel → stock restored; plus trace continuity across HTTP hops and the broker; plus the
 * gateway against its OpenAPI document: the served document is the checked-in one, every
 * documented operation exists, every response of the journey validates against the document,
 * and malformed input of any kind to any operation is a documented 4xx in the error shape.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type ApiClient, createApiClient } from '@mdp/api-client';
import { eventually, rawHttp } from '@mdp/platform/testing';
import { apiClientCli } from './cli.js';
import {
  checkedInDocument,
  type OpenApiDoc,
  operations,
  type ResponseValidator,
  responseValidator,
} from './contract.js';
import { fuzzOperations, relaxedRateLimitFlags } from './fuzz.js';
import { expectStatus, journeyHelpers, shopJourney } from './journey.js';
import { startOtlpReceiver } from './otlp-receiver.js';
import { type Stack, startStack } from './stack.js';

describe('the shop end to end, through the gateway', { timeout: 300_000 }, () => {
  let stack: Stack;
  let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let api: ApiClient;
  let signUp: ReturnType<typeof journeyHelpers>['signUp'];
  let doc: OpenApiDoc;
  let validator: ResponseValidator;
  let flags: Awaited<ReturnType<typeof relaxedRateLimitFlags>>;

  before(async () => {
    otlp = await startOtlpReceiver();
    // The fuzz test sends hundreds of anonymous requests from one IP: a higher per-minute limit
    // (the flag's `relaxed` variant) keeps most of them from being 429s.
    flags = await relaxedRateLimitFlags();
    stack = await startStack({ otlpEndpoint: otlp.endpoint, flagsFile: flags.file });
    doc = checkedInDocument();
    validator = await responseValidator(doc);
    // Every call of the typed client is checked against the document (status and body).
    api = createApiClient({ baseUrl: stack.gateway, middleware: [validator.middleware] });
    ({ signUp } = journeyHelpers(api));
  });

  after(async () => {
    await stack?.stop();
    await otlp?.close();
    await flags?.remove();
  });

  test('the gateway serves the checked-in document (packages/api-client/openapi.json)', async () => {
    const res = await fetch(`${stack.gateway}/docs/json`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
    const live = (await res.json()) as OpenApiDoc & { info: Record<string, unknown> };
    live.info = { ...live.info, version: '0.1.0' };
    assert.deepEqual(live, doc, 'the code changed the document: run `npm run api:generate` and commit');
  });

  test('every documented operation exists at the gateway and answers a documented status', async () => {
    for (const { path, method, op } of operations(doc)) {
      const url = path.replace(/\{[^}]+\}/g, randomUUID());
      const res = await fetch(`${stack.gateway}${url}`, {
        method: method.toUpperCase(),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json()) as { error?: { message?: string } };
      assert.doesNotMatch(String(body?.error?.message), /^no route for/, `${method} ${path}`);
      assert.equal(validator.check(op, res.status, body), undefined);
    }
  });

  test('register → login → browse/search → order → visible → notified → cancel → stock restored (every response validated)', async () => {
    await shopJourney(stack.gateway, api);
    // The journey went through the validator: these operations were checked, with these statuses.
    for (const [id, status] of [
      ['register', 201],
      ['login', 200],
      ['listProducts', 200],
      ['getProduct', 200],
      ['placeOrder', 201],
      ['listOrders', 200],
      ['listOrders', 401],
      ['getOrder', 404],
      ['cancelOrder', 200],
      ['listNotifications', 200],
    ] as const)
      assert.ok(validator.seen.get(id)?.has(status), `${id} ${status} validated`);
  });

  test('one order request is one trace: gateway → order-service → product-service, and the consume span', async () => {
    const { token } = await signUp();
    const products = await expectStatus(
      api.GET('/api/products', { params: { query: { category: 'accessories' } } }),
      200,
    );
    const productId = products.items[0]?.id as string;
    // The client starts the trace, so the test knows its id.
    const traceId = randomBytes(16).toString('hex');
    await expectStatus(
      api.POST('/api/orders', {
        headers: {
          authorization: `Bearer ${token}`,
          traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
        },
        body: { items: [{ productId, quantity: 1 }] },
      }),
      201,
    );
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

  test('through the gateway: garbage cursors and an absolute-form target are 400s in the error shape', async () => {
    for (const cursor of ['garbage', 'Zm9vYmFy', '%%%']) {
      const products = await api.GET('/api/products', { params: { query: { cursor } } });
      assert.equal(products.response.status, 400, cursor);
      assert.equal(products.error?.error.code, 'INVALID_CURSOR');
    }
    const { token } = await signUp();
    const orders = await api.GET('/api/orders', {
      params: { query: { cursor: 'garbage' } },
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(orders.error?.error.code, 'INVALID_CURSOR');
    const { port } = new URL(stack.gateway);
    const raw = await rawHttp(
      Number(port),
      'GET https://shop.example/api/products HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n',
    );
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.match(raw, /"code":"BAD_REQUEST"/);
  });

  test('npm run smoke: the short journey passes (exit 0, JSON summary last); a gateway that is not there fails (exit 1)', async () => {
    const ok = await apiClientCli('smoke', ['--base-url', stack.gateway]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.equal(ok.last.ok, true);
    assert.equal((ok.last.steps as unknown[]).length, 7);
    const down = await apiClientCli('smoke', ['--base-url', 'http://127.0.0.1:1']);
    assert.equal(down.code, 1, down.stdout + down.stderr);
    assert.equal(down.last.ok, false);
    assert.equal(down.last.failed, 'register');
    assert.equal((await apiClientCli('smoke', [])).code, 2, 'no --base-url is a usage error');
  });

  test('npm run loadtest --profile ci (the short run of CI): p50/p99 per group and error rate, exit code = the SLO gate verdict', async (t) => {
    const run = await apiClientCli('loadtest', ['--base-url', stack.gateway, '--profile', 'ci', '--json']);
    const result = run.last as {
      profile: string;
      pass: boolean;
      errorRate: number;
      failures: string[];
      groups: { group: string; requests: number; errors: number; p50Ms: number; p99Ms: number }[];
      cleanup: { ordersPlaced: number; ordersCancelled: number };
    };
    t.diagnostic(run.stdout.split('\n').slice(0, 7).join('\n'));
    assert.equal(result.profile, 'ci');
    assert.deepEqual(
      result.groups.map((g) => g.group),
      ['catalog', 'auth', 'orders', 'notifications'],
    );
    for (const g of result.groups) {
      assert.ok(g.requests > 0, g.group);
      assert.equal(g.errors, 0, `${g.group}: ${run.stdout}`);
      assert.ok(g.p99Ms >= g.p50Ms && g.p50Ms > 0, g.group);
    }
    assert.equal(result.errorRate, 0);
    // The verdict is the figures' (p99 on this shared machine decides it), and the exit code is the verdict.
    assert.equal(run.code, result.pass ? 0 : 1, run.stdout + run.stderr);
    assert.equal(result.pass, result.failures.length === 0);
    assert.ok(result.cleanup.ordersPlaced > 0);
    assert.equal(result.cleanup.ordersCancelled, result.cleanup.ordersPlaced, 'the stock came back');
  });

  test('malformed input to every public operation: never a 5xx, every 4xx documented and in the error shape', async (t) => {
    const { token } = await signUp();
    const report = await fuzzOperations({
      gateway: stack.gateway,
      doc,
      validator,
      token,
      casesPerOperation: 40,
    });
    t.diagnostic(`statuses over ${report.cases} cases: ${JSON.stringify(report.statuses)}`);
    assert.deepEqual(report.failures, [], report.failures.slice(0, 5).join('\n'));
    assert.equal(report.cases, operations(doc).length * 40);
  });
});
