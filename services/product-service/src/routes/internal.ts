import {
  RELEASE_PATH,
  RESERVE_PATH,
  ReleaseParams,
  Reservation as ReservationSchema,
  ReserveRequest,
} from '@mdp/contracts/reservations';
import type { AuthHook } from '@mdp/platform/auth';
import type { HttpApp } from '@mdp/platform/http';
import type { Catalog } from '../domain/catalog.js';
import type { Reservation } from '../domain/product.js';

const view = (r: Reservation) => ({ orderId: r.orderId, status: r.status, lines: r.lines });

/**
 * Stock reservation for order-service (internal: the gateway does not expose /internal), as
 * `@mdp/contracts/reservations` defines it. Every call carries a service token of an allowed
 * caller (`internalAuth`, before the body is read): reaching the pod is not enough. Both calls are idempotent per order id, so the caller
 * may retry them; refusals are the contract's RESERVATION_ERRORS (errors.ts).
 */
export function internalRoutes(app: HttpApp, deps: { catalog: Catalog; internalAuth: AuthHook }) {
  const { catalog, internalAuth } = deps;

  app.post(
    RESERVE_PATH,
    {
      onRequest: internalAuth,
      config: { featureFlag: 'stock.reserve' },
      schema: { tags: ['internal'], body: ReserveRequest, response: { 200: ReservationSchema } },
    },
    async (request) =>
      view(await catalog.reserve(request.body.orderId, request.body.items, request.body.userId)),
  );

  app.post(
    RELEASE_PATH,
    {
      onRequest: internalAuth,
      config: { featureFlag: 'stock.release' },
      schema: { tags: ['internal'], params: ReleaseParams, response: { 200: ReservationSchema } },
    },
    async (request) => view(await catalog.release(request.params.orderId)),
  );
}
