import { Id, Money } from '@mdp/contracts/common';
import { OrderLine } from '@mdp/contracts/events';
import { type RouteAuth, userOf } from '@mdp/platform/auth';
import type { HttpApp } from '@mdp/platform/http';
import type { Metrics } from '@mdp/platform/metrics';
import { operation } from '@mdp/platform/openapi';
import { Type } from '@sinclair/typebox';
import { OrderLimitError } from '../domain/limits.js';
import type { Orders } from '../domain/orders.js';
import { InventoryUnavailableError, StockRefusedError } from '../domain/ports.js';
import { FaultInjectedError, type FaultInjector } from '../faults.js';

const OrderSchema = Type.Object({
  id: Type.String(),
  status: Type.String(),
  items: Type.Array(OrderLine),
  total: Money,
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

const outcomeOf = (err: unknown) =>
  err instanceof StockRefusedError
    ? err.reason
    : err instanceof OrderLimitError
      ? 'order_limit'
      : err instanceof InventoryUnavailableError
        ? 'unavailable'
        : err instanceof FaultInjectedError
          ? 'fault_injected'
          : 'failed';

const OrderPage = Type.Object({
  items: Type.Array(OrderSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'the next page, or null at the end' }),
});

export function orderRoutes(
  app: HttpApp,
  deps: { orders: Orders; auth: RouteAuth; faults: FaultInjector; metrics: Metrics },
) {
  const { orders, auth, faults } = deps;
  // order-service's own metric (platform contract): orders created, by outcome.
  const created = deps.metrics.counter('orders_created_total', 'Orders created', ['outcome']);

  app.post(
    '/orders',
    {
      config: { featureFlag: 'orders.create' },
      onRequest: auth.authenticate,
      schema: {
        ...operation({
          operationId: 'placeOrder',
          summary: 'Place an order (prices come from the catalog); Idempotency-Key makes retries safe',
          tag: 'orders',
          access: 'bearer',
          body: true,
          responses: { 201: OrderSchema },
          errors: {
            409: [
              ['INSUFFICIENT_STOCK', 'not enough stock for a line'],
              [
                'ORDER_LIMIT_REACHED',
                'the customer already holds the most open orders, or units of a product, the shop allows (cancel one, or wait)',
              ],
            ],
            422: [
              ['UNKNOWN_PRODUCT', 'a line names no product of the catalog'],
              ['IDEMPOTENCY_KEY_REUSED', 'the Idempotency-Key was used for another request'],
              ['MIXED_CURRENCY', 'the products are priced in different currencies'],
            ],
            503: [
              ['PRODUCT_SERVICE_UNAVAILABLE', 'the catalog is unavailable; retry'],
              ['DEPENDENCY_UNAVAILABLE', 'a datastore is unavailable; retry after Retry-After'],
            ],
          },
        }),
        headers: Type.Object({
          'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
        }),
        body: Type.Object(
          {
            items: Type.Array(
              Type.Object(
                { productId: Id, quantity: Type.Integer({ minimum: 1, maximum: 100 }) },
                { additionalProperties: false },
              ),
              { minItems: 1, maxItems: 50 },
            ),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const user = userOf(request);
      try {
        await faults.beforeCreate(user.id);
        const order = await orders.place(user, request.body.items, request.headers['idempotency-key']);
        created.inc({ outcome: 'created' });
        return reply.code(201).send(order);
      } catch (err) {
        created.inc({ outcome: outcomeOf(err) });
        throw err;
      }
    },
  );

  app.get(
    '/orders',
    {
      config: { featureFlag: 'orders.list' },
      onRequest: auth.authenticate,
      schema: {
        ...operation({
          operationId: 'listOrders',
          summary: "The caller's orders, newest first, a page at a time",
          tag: 'orders',
          access: 'bearer',
          responses: { 200: OrderPage },
          errors: {
            400: [
              ['VALIDATION_FAILED', 'a query parameter is out of range'],
              ['INVALID_CURSOR', 'the cursor is not one this API returned'],
            ],
          },
        }),
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
          cursor: Type.Optional(Type.String({ maxLength: 200 })),
        }),
      },
    },
    async (request) => {
      const page = await orders.list(userOf(request), {
        limit: request.query.limit ?? 20,
        cursor: request.query.cursor,
      });
      return { items: page.items, nextCursor: page.nextCursor };
    },
  );

  // One order of the caller's, by id: read it, or cancel it.
  const notFound = [['NOT_FOUND', "no such order of the caller's"]] as const;
  app.get(
    '/orders/:id',
    {
      onRequest: auth.authenticate,
      config: { featureFlag: 'orders.read' },
      schema: {
        ...operation({
          operationId: 'getOrder',
          summary: "One of the caller's orders",
          tag: 'orders',
          access: 'bearer',
          responses: { 200: OrderSchema },
          errors: { 404: notFound },
        }),
        params: Type.Object({ id: Id }),
      },
    },
    async (request) => orders.get(userOf(request), request.params.id),
  );
  app.post(
    '/orders/:id/cancel',
    {
      onRequest: auth.authenticate,
      config: { featureFlag: 'orders.cancel' },
      schema: {
        ...operation({
          operationId: 'cancelOrder',
          summary: 'Cancel an order (owner or admin); its stock is released',
          tag: 'orders',
          access: 'bearer',
          // No body is read, but a POST may carry one: an unsupported or oversized one is refused.
          body: true,
          responses: { 200: OrderSchema },
          errors: {
            404: notFound,
            409: [['INVALID_TRANSITION', 'the order can no longer be cancelled']],
            503: [
              ['PRODUCT_SERVICE_UNAVAILABLE', 'the catalog is unavailable; retry'],
              ['DEPENDENCY_UNAVAILABLE', 'a datastore is unavailable; retry after Retry-After'],
            ],
          },
        }),
        params: Type.Object({ id: Id }),
      },
    },
    async (request) => orders.cancel(userOf(request), request.params.id),
  );
}
