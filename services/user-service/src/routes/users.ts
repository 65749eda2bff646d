import { authenticate, type PublicKeyInput } from '@mdp/platform/auth';
import { unauthorized } from '@mdp/platform/errors';
import type { HttpApp } from '@mdp/platform/http';
import { bearerSecurity } from '@mdp/platform/openapi';
import type { FastifyRequest } from 'fastify';
import type { UserService } from '../domain/users.js';
import { UpdateMeBody, UserSchema } from './schemas.js';

const callerId = (request: FastifyRequest) => {
  if (!request.user) throw unauthorized();
  return request.user.id;
};

export function userRoutes(app: HttpApp, deps: { users: UserService; publicKey: PublicKeyInput }) {
  const { users } = deps;
  const auth = authenticate(deps.publicKey);

  app.get(
    '/users/me',
    {
      preHandler: auth,
      schema: {
        tags: ['users'],
        summary: 'The signed-in user',
        security: bearerSecurity,
        response: { 200: UserSchema },
      },
    },
    async (request) => users.me(callerId(request)),
  );

  app.patch(
    '/users/me',
    {
      preHandler: auth,
      schema: {
        tags: ['users'],
        summary: "Change the signed-in user's name",
        security: bearerSecurity,
        body: UpdateMeBody,
        response: { 200: UserSchema },
      },
    },
    async (request) => users.rename(callerId(request), request.body.name),
  );
}
