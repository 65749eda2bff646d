import swagger from '@fastify/swagger';
import type { HttpApp } from './http.js';

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

/**
 * Documents the service's routes from their schemas (@fastify/swagger, OpenAPI 3) and serves the
 * document at `GET /openapi.json` (the gateway merges these into the public API at /docs).
 *
 * @fastify/swagger sees only routes declared after it is loaded, so declare the routes inside a
 * plugin registered after this call: `registerOpenApi(app, info); app.register(routes)`.
 */
export function registerOpenApi(app: HttpApp, info: OpenApiInfo): void {
  app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info,
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
    hideUntagged: false,
    // A route's kill-switch flag (route config `featureFlag`) is shown on its operation.
    transform: ({ schema, url, route }) => {
      const flag = route.config?.featureFlag;
      return { schema: flag ? { ...schema, 'x-feature-flag': flag } : schema, url };
    },
  });
  app.register(async (scope) => {
    scope.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  });
}

/** Marks a route as needing `Authorization: Bearer` in the OpenAPI document. */
export const bearerSecurity = [{ bearerAuth: [] as string[] }];
