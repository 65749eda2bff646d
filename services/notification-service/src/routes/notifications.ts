import { type RouteAuth, userOf } from '@mdp/platform/auth';
import type { HttpApp } from '@mdp/platform/http';
import { operation } from '@mdp/platform/openapi';
import { Type } from '@sinclair/typebox';
import type { NotificationStore } from '../domain/notifications.js';

const NotificationPage = Type.Object({
  items: Type.Array(
    Type.Object({
      id: Type.String(),
      type: Type.String(),
      channel: Type.String(),
      status: Type.String(),
      createdAt: Type.String(),
    }),
  ),
});

export function notificationRoutes(app: HttpApp, deps: { store: NotificationStore; auth: RouteAuth }) {
  app.get(
    '/notifications',
    {
      config: { featureFlag: 'notifications.list' },
      onRequest: deps.auth.authenticate,
      schema: {
        ...operation({
          operationId: 'listNotifications',
          summary: "The caller's notifications, newest first",
          tag: 'notifications',
          access: 'bearer',
          responses: { 200: NotificationPage },
        }),
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
        }),
      },
    },
    async (request) => ({
      items: await deps.store.listForUser(userOf(request).id, request.query.limit ?? 50),
    }),
  );
}
