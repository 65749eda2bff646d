import { AppError } from '@mdp/platform/errors';
import type { HttpApp } from '@mdp/platform/http';
import { Type } from '@sinclair/typebox';
import type { Catalog } from '../domain/catalog.js';
import { type Reservation, ReservationError } from '../domain/product.js';
import { Id, ReservationSchema } from './schemas.js';

const view = (r: Reservation) => ({ orderId: r.orderId, status: r.status, lines: r.lines });

/**
 * Stock reservation for order-service (internal: the gateway does not expose /internal).
 * Both calls are idempotent per order id, so the caller may retry them.
 */
export function internalRoutes(app: HttpApp, deps: { catalog: Catalog }) {
  const { catalog } = deps;

  app.post(
    '/internal/reservations',
    {
      schema: {
        tags: ['internal'],
        body: Type.Object(
          {
            orderId: Id,
            items: Type.Array(
              Type.Object(
                { productId: Id, quantity: Type.Integer({ minimum: 1, maximum: 1000 }) },
                { additionalProperties: false },
              ),
              { minItems: 1, maxItems: 50 },
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: ReservationSchema },
      },
    },
    async (request) => {
      try {
        return view(await catalog.reserve(request.body.orderId, request.body.items));
      } catch (err) {
        if (err instanceof ReservationError) {
          if (err.reason === 'insufficient_stock')
            throw new AppError(409, 'INSUFFICIENT_STOCK', err.message, { productId: err.productId });
          if (err.reason === 'unknown_product')
            throw new AppError(422, 'UNKNOWN_PRODUCT', err.message, { productId: err.productId });
          if (err.reason === 'in_progress') throw new AppError(503, 'RESERVATION_IN_PROGRESS', err.message);
          throw new AppError(409, 'RESERVATION_RELEASED', err.message);
        }
        throw err;
      }
    },
  );

  app.post(
    '/internal/reservations/:orderId/release',
    {
      schema: {
        tags: ['internal'],
        params: Type.Object({ orderId: Id }),
        response: { 200: ReservationSchema },
      },
    },
    async (request) => view(await catalog.release(request.params.orderId)),
  );
}
