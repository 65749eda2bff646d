import { type RouteAuth, userOf } from '@mdp/platform/auth';
import type { HttpApp } from '@mdp/platform/http';
import { operation } from '@mdp/platform/openapi';
import { Type } from '@sinclair/typebox';
import type { UserService } from '../domain/users.js';
import { LoginBody, RefreshTokenBody, RegisterBody, TokenPairSchema, UserSchema } from './schemas.js';

export function authRoutes(app: HttpApp, deps: { users: UserService; auth: RouteAuth }) {
  const { users } = deps;

  app.post(
    '/auth/register',
    {
      config: { featureFlag: 'auth.register' },
      schema: {
        ...operation({
          operationId: 'register',
          summary: 'Create a customer account',
          tag: 'auth',
          access: 'public',
          body: true,
          responses: { 201: UserSchema },
          errors: { 409: [['EMAIL_TAKEN', 'the email is already registered']] },
        }),
        body: RegisterBody,
      },
    },
    async (request, reply) => reply.code(201).send(await users.register(request.body)),
  );

  app.post(
    '/auth/login',
    {
      config: { featureFlag: 'auth.login' },
      schema: {
        ...operation({
          operationId: 'login',
          summary: 'Sign in: an access token (15 min) and a refresh token',
          tag: 'auth',
          access: 'public',
          body: true,
          responses: { 200: TokenPairSchema },
          errors: {
            401: [['UNAUTHORIZED', 'wrong email or password']],
            429: [['TOO_MANY_REQUESTS', 'too many failed sign-ins; retry after Retry-After']],
          },
        }),
        body: LoginBody,
      },
    },
    async (request) => users.login(request.body, request.ip),
  );

  app.post(
    '/auth/refresh',
    {
      config: { featureFlag: 'auth.refresh' },
      schema: {
        ...operation({
          operationId: 'refreshTokens',
          summary: 'Exchange a refresh token for a new pair; the old refresh token stops working',
          tag: 'auth',
          access: 'public',
          body: true,
          responses: { 200: TokenPairSchema },
          errors: { 401: [['UNAUTHORIZED', 'the refresh token is unknown, used or revoked']] },
        }),
        body: RefreshTokenBody,
      },
    },
    async (request) => users.refresh(request.body.refreshToken),
  );

  app.post(
    '/auth/logout',
    {
      config: { featureFlag: 'auth.logout' },
      preHandler: deps.auth.authenticate,
      schema: {
        ...operation({
          operationId: 'logout',
          summary: 'Revoke a refresh token (and its family)',
          tag: 'auth',
          access: 'bearer',
          body: true,
          responses: { 204: Type.Null({ description: 'revoked' }) },
        }),
        body: RefreshTokenBody,
      },
    },
    async (request, reply) => {
      await users.logout(request.body.refreshToken, userOf(request).id);
      return reply.code(204).send(null);
    },
  );
}
