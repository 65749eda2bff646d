import { type RouteAuth, userOf } from '@mdp/platform/auth';
import type { HttpApp } from '@mdp/platform/http';
import { operation } from '@mdp/platform/openapi';
import type { UserService } from '../domain/users.js';
import { UpdateMeBody, UserSchema } from './schemas.js';

export function userRoutes(app: HttpApp, deps: { users: UserService; auth: RouteAuth }) {
  const { users } = deps;
  const auth = deps.auth.authenticate;

  app.get(
    '/users/me',
    {
      config: { featureFlag: 'users.read-me' },
      preHandler: auth,
      schema: {
        ...operation({
          operationId: 'getMe',
          summary: 'The signed-in user',
          tag: 'users',
          access: 'bearer',
          responses: { 200: UserSchema },
          errors: { 404: [['NOT_FOUND', 'the account no longer exists']] },
        }),
      },
    },
    async (request) => users.me(userOf(request).id),
  );

  app.patch(
    '/users/me',
    {
      config: { featureFlag: 'users.update-me' },
      preHandler: auth,
      schema: {
        ...operation({
          operationId: 'updateMe',
          summary: "Change the signed-in user's name",
          tag: 'users',
          access: 'bearer',
          body: true,
          responses: { 200: UserSchema },
          errors: { 404: [['NOT_FOUND', 'the account no longer exists']] },
        }),
        body: UpdateMeBody,
      },
    },
    async (request) => users.rename(userOf(request).id, request.body.name),
  );
}
