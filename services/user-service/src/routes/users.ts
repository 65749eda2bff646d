import { type RouteAuth, userOf } from '@mdp/platform/auth';
import type { HttpApp } from '@mdp/platform/http';
import { bearerSecurity } from '@mdp/platform/openapi';
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
        tags: ['users'],
        summary: 'The signed-in user',
        security: bearerSecurity,
        response: { 200: UserSchema },
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
        tags: ['users'],
        summary: "Change the signed-in user's name",
        security: bearerSecurity,
        body: UpdateMeBody,
        response: { 200: UserSchema },
      },
    },
    async (request) => users.rename(userOf(request).id, request.body.name),
  );
}
