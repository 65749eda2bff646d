import type { RouteAuth } from '@mdp/platform/auth';
import { notFound } from '@mdp/platform/errors';
import type { HttpApp } from '@mdp/platform/http';
import { operation } from '@mdp/platform/openapi';
import { Type } from '@sinclair/typebox';
import { type Catalog, DEFAULT_LIMIT, MAX_LIMIT } from '../domain/catalog.js';
import { Id, NewProductSchema, ProductPatchSchema, ProductSchema } from './schemas.js';

const ProductPage = Type.Object({
  items: Type.Array(ProductSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'the next page, or null at the end' }),
});

export function productRoutes(app: HttpApp, deps: { catalog: Catalog; auth: RouteAuth }) {
  const { catalog, auth } = deps;
  const admin = [auth.authenticate, auth.requireRole('admin')];

  app.get(
    '/products',
    {
      config: { featureFlag: 'products.list' },
      // Public; a valid token only picks the signed-in user's ranking variant (a bad one is ignored).
      ...(auth.identify ? { onRequest: auth.identify } : {}),
      schema: {
        ...operation({
          operationId: 'listProducts',
          summary: 'Browse and search the catalog, a page at a time',
          tag: 'products',
          access: 'public',
          responses: { 200: ProductPage },
          errors: {
            400: [
              ['VALIDATION_FAILED', 'a query parameter is out of range'],
              ['INVALID_CURSOR', 'the cursor is not one this API returned'],
            ],
          },
        }),
        querystring: Type.Object({
          q: Type.Optional(Type.String({ maxLength: 200 })),
          category: Type.Optional(Type.String({ maxLength: 100 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT })),
          cursor: Type.Optional(Type.String({ maxLength: 200 })),
        }),
      },
    },
    async (request) => catalog.list(request.query, request.user?.id),
  );

  app.get(
    '/products/:id',
    {
      config: { featureFlag: 'products.read' },
      schema: {
        ...operation({
          operationId: 'getProduct',
          summary: 'One product',
          tag: 'products',
          access: 'public',
          responses: { 200: ProductSchema },
          errors: { 404: [['NOT_FOUND', 'no such product']] },
        }),
        params: Type.Object({ id: Id }),
      },
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
        ...operation({
          operationId: 'createProduct',
          summary: 'Add a product to the catalog (admin)',
          tag: 'products',
          access: 'admin',
          body: true,
          responses: { 201: ProductSchema },
          errors: { 409: [['DUPLICATE_SKU', 'a product with this SKU exists']] },
        }),
        body: NewProductSchema,
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
        ...operation({
          operationId: 'updateProduct',
          summary: 'Change some fields of a product (admin)',
          tag: 'products',
          access: 'admin',
          body: true,
          responses: { 200: ProductSchema },
          errors: {
            404: [['NOT_FOUND', 'no such product']],
            409: [['DUPLICATE_SKU', 'a product with this SKU exists']],
          },
        }),
        params: Type.Object({ id: Id }),
        body: ProductPatchSchema,
      },
    },
    async (request) => {
      const product = await catalog.update(request.params.id, request.body);
      if (!product) throw notFound(`no product ${request.params.id}`);
      return product;
    },
  );
}
