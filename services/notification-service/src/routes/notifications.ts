import { type RouteAuth, userOf } from '@mdp/platform/auth';
import type { HttpApp } from '@mdp/platform/http';
import { bearerSecurity } from '@mdp/platform/openapi';
import { Type } from '@sinclair/typebox';
import type { NotificationStore } from '../domain/notifications.js';

export function notificationRoutes(app: HttpApp, deps: { store: NotificationStore; auth: RouteAuth }) {
  app.get(
    '/notifications',
    {
      config: { featureFlag: 'notifications.list' },
      onRequest: deps.auth.authenticate,
      schema: {
        tags: ['notifications'],
        security: bearerSecurity,
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }) }),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                id: Type.String(),
                type: Type.String(),
                channel: Type.String(),
                status: Type.String(),
                createdAt: Type.String(),
              }),
            ),
          }),
        },
      },
    },
    async (request) => ({ items: await deps.store.listForUser(userOf(request).id, request.query.limit) }),
  );
}
