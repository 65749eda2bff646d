import { Id, Money } from '@mdp/contracts/common';
import { OrderLine } from '@mdp/contracts/events';
import { type RouteAuth, userOf } from '@mdp/platform/auth';
import type { HttpApp } from '@mdp/platform/http';
import type { Metrics } from '@mdp/platform/metrics';
import { bearerSecurity } from '@mdp/platform/openapi';
import { Type } from '@sinclair/typebox';
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
    : err instanceof InventoryUnavailableError
      ? 'unavailable'
      : err instanceof FaultInjectedError
        ? 'fault_injected'
        : 'failed';

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
        tags: ['orders'],
        security: bearerSecurity,
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
        response: { 201: OrderSchema },
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
        tags: ['orders'],
        security: bearerSecurity,
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          cursor: Type.Optional(Type.String({ maxLength: 200 })),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(OrderSchema),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
        },
      },
    },
    async (request) => {
      const page = await orders.list(userOf(request), {
        limit: request.query.limit,
        cursor: request.query.cursor,
      });
      return { items: page.items, nextCursor: page.nextCursor };
    },
  );

  // One order of the caller's, by id: read it, or cancel it.
  const oneOrder = {
    onRequest: auth.authenticate,
    schema: {
      tags: ['orders'],
      security: bearerSecurity,
      params: Type.Object({ id: Id }),
      response: { 200: OrderSchema },
    },
  };
  app.get('/orders/:id', { ...oneOrder, config: { featureFlag: 'orders.read' } }, async (request) =>
    orders.get(userOf(request), request.params.id),
  );
  app.post('/orders/:id/cancel', { ...oneOrder, config: { featureFlag: 'orders.cancel' } }, async (request) =>
    orders.cancel(userOf(request), request.params.id),
  );
}
