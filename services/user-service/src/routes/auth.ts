import { type RouteAuth, userOf } from '@mdp/platform/auth';
import type { HttpApp } from '@mdp/platform/http';
import { bearerSecurity } from '@mdp/platform/openapi';
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
        tags: ['auth'],
        summary: 'Create a customer account',
        body: RegisterBody,
        response: { 201: UserSchema },
      },
    },
    async (request, reply) => reply.code(201).send(await users.register(request.body)),
  );

  app.post(
    '/auth/login',
    {
      config: { featureFlag: 'auth.login' },
      schema: {
        tags: ['auth'],
        summary: 'Sign in: an access token (15 min) and a refresh token',
        body: LoginBody,
        response: { 200: TokenPairSchema },
      },
    },
    async (request) => users.login(request.body, request.ip),
  );

  app.post(
    '/auth/refresh',
    {
      config: { featureFlag: 'auth.refresh' },
      schema: {
        tags: ['auth'],
        summary: 'Exchange a refresh token for a new pair; the old refresh token stops working',
        body: RefreshTokenBody,
        response: { 200: TokenPairSchema },
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
        tags: ['auth'],
        summary: 'Revoke a refresh token (and its family)',
        security: bearerSecurity,
        body: RefreshTokenBody,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await users.logout(request.body.refreshToken, userOf(request).id);
      return reply.code(204).send(null);
    },
  );
}
