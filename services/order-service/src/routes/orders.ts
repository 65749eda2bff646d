import { AppError, conflict, notFound, unavailable } from '@mdp/platform/errors';
import type { HttpApp } from '@mdp/platform/http';
import type { Metrics } from '@mdp/platform/metrics';
import { bearerSecurity } from '@mdp/platform/openapi';
import { Type } from '@sinclair/typebox';
import { InvalidTransitionError, MixedCurrencyError } from '../domain/order.js';
import { IdempotencyKeyReusedError, OrderNotFoundError, type Orders } from '../domain/orders.js';
import { InventoryUnavailableError, StockRefusedError } from '../domain/ports.js';
import type { FaultInjector } from '../faults.js';
import { type RouteAuth, userOf } from './auth.js';

const Money = Type.Object({ amount: Type.Integer(), currency: Type.String() });
const OrderSchema = Type.Object({
  id: Type.String(),
  status: Type.String(),
  items: Type.Array(
    Type.Object({
      productId: Type.String(),
      sku: Type.String(),
      name: Type.String(),
      quantity: Type.Integer(),
      unitPrice: Money,
      lineTotal: Money,
    }),
  ),
  total: Money,
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
const Id = Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' });

/** Domain errors → the contract's HTTP errors. */
function toHttp(err: unknown): unknown {
  if (err instanceof StockRefusedError) {
    if (err.reason === 'unknown_product')
      return new AppError(422, 'UNKNOWN_PRODUCT', err.message, { productId: err.productId });
    return new AppError(409, 'INSUFFICIENT_STOCK', err.message, { productId: err.productId });
  }
  if (err instanceof InventoryUnavailableError)
    return unavailable('the catalog is unavailable; try again shortly', 'PRODUCT_SERVICE_UNAVAILABLE');
  if (err instanceof OrderNotFoundError) return notFound(err.message);
  if (err instanceof InvalidTransitionError) return conflict(err.message, 'INVALID_TRANSITION');
  if (err instanceof IdempotencyKeyReusedError)
    return new AppError(422, 'IDEMPOTENCY_KEY_REUSED', err.message);
  if (err instanceof MixedCurrencyError) return new AppError(422, 'MIXED_CURRENCY', err.message);
  return err;
}

const outcomeOf = (err: unknown) =>
  err instanceof StockRefusedError
    ? err.reason
    : err instanceof InventoryUnavailableError
      ? 'unavailable'
      : err instanceof AppError && err.code === 'FAULT_INJECTED'
        ? 'fault_injected'
        : 'failed';

export function orderRoutes(
  app: HttpApp,
  deps: { orders: Orders; auth: RouteAuth; faults: FaultInjector; metrics: Metrics },
) {
  const { orders, auth, faults } = deps;
  const created = deps.metrics.ordersCreated();

  app.post(
    '/orders',
    {
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
        throw toHttp(err);
      }
    },
  );

  app.get(
    '/orders',
    {
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

  app.get(
    '/orders/:id',
    {
      onRequest: auth.authenticate,
      schema: {
        tags: ['orders'],
        security: bearerSecurity,
        params: Type.Object({ id: Id }),
        response: { 200: OrderSchema },
      },
    },
    async (request) => {
      try {
        return await orders.get(userOf(request), request.params.id);
      } catch (err) {
        throw toHttp(err);
      }
    },
  );

  app.post(
    '/orders/:id/cancel',
    {
      onRequest: auth.authenticate,
      schema: {
        tags: ['orders'],
        security: bearerSecurity,
        params: Type.Object({ id: Id }),
        response: { 200: OrderSchema },
      },
    },
    async (request) => {
      try {
        return await orders.cancel(userOf(request), request.params.id);
      } catch (err) {
        throw toHttp(err);
      }
    },
  );
}
