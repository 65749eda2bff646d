import type { RouteAuth } from '@mdp/platform/auth';
import { notFound } from '@mdp/platform/errors';
import type { HttpApp } from '@mdp/platform/http';
import { bearerSecurity } from '@mdp/platform/openapi';
import { Type } from '@sinclair/typebox';
import { type Catalog, DEFAULT_LIMIT, MAX_LIMIT } from '../domain/catalog.js';
import { Id, NewProductSchema, ProductPatchSchema, ProductSchema } from './schemas.js';

export function productRoutes(app: HttpApp, deps: { catalog: Catalog; auth: RouteAuth }) {
  const { catalog, auth } = deps;
  const admin = [auth.authenticate, auth.requireRole('admin')];

  app.get(
    '/products',
    {
      config: { featureFlag: 'products.list' },
      schema: {
        tags: ['products'],
        querystring: Type.Object({
          q: Type.Optional(Type.String({ maxLength: 200 })),
          category: Type.Optional(Type.String({ maxLength: 100 })),
          limit: Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT }),
          cursor: Type.Optional(Type.String({ maxLength: 200 })),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(ProductSchema),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
        },
      },
    },
    async (request) => catalog.list(request.query),
  );

  app.get(
    '/products/:id',
    {
      config: { featureFlag: 'products.read' },
      schema: { tags: ['products'], params: Type.Object({ id: Id }), response: { 200: ProductSchema } },
    },
    async (request) => {
      const product = await catalog.get(request.params.id);
      if (!product) throw notFound(`no product ${request.params.id}`);
      return product;
    },
  );

  app.post(
    '/products',
    {
      config: { featureFlag: 'products.create' },
      onRequest: admin,
      schema: {
        tags: ['products'],
        security: bearerSecurity,
        body: NewProductSchema,
        response: { 201: ProductSchema },
      },
    },
    async (request, reply) => reply.code(201).send(await catalog.create(request.body)),
  );

  app.patch(
    '/products/:id',
    {
      config: { featureFlag: 'products.update' },
      onRequest: admin,
      schema: {
        tags: ['products'],
        security: bearerSecurity,
        params: Type.Object({ id: Id }),
        body: ProductPatchSchema,
        response: { 200: ProductSchema },
      },
    },
    async (request) => {
      const product = await catalog.update(request.params.id, request.body);
      if (!product) throw notFound(`no product ${request.params.id}`);
      return product;
    },
  );
}
