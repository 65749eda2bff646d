import { type RouteAuth, userOf } from '@mdp/platform/auth';
import type { HttpApp } from '@mdp/platform/http';
import { operation } from '@mdp/platform/openapi';
import { Type } from '@sinclair/typebox';
import type { UserService } from '../domain/users.js';
import { ChangePasswordBody, UpdateMeBody, UserSchema } from './schemas.js';

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

  app.post(
    '/users/me/password',
    {
      config: { featureFlag: 'users.change-password' },
      preHandler: auth,
      schema: {
        ...operation({
          operationId: 'changePassword',
          summary: 'Change the password (the current one required); every session is signed out',
          tag: 'users',
          access: 'bearer',
          body: true,
          responses: { 204: Type.Null({ description: 'changed; every refresh token revoked' }) },
          errors: {
            403: [['FORBIDDEN', 'the current password is wrong']],
            404: [['NOT_FOUND', 'the account no longer exists']],
            429: [['TOO_MANY_REQUESTS', 'too many wrong passwords; retry after Retry-After']],
          },
        }),
        body: ChangePasswordBody,
      },
    },
    async (request, reply) => {
      await users.changePassword(userOf(request).id, request.body, request.ip);
      return reply.code(204).send(null);
    },
  );
}
