import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { notFound } from './errors.js';
import { operation } from './openapi.js';
import { testApp } from './test-support.js';

test('operation(): operationId, summary, tag, security and every error answer by reference to one schema', async () => {
  const { app } = testApp({
    openapi: { title: 'demo', tags: [{ name: 'things', description: 'Things' }] },
    routes: (scope) => {
      scope.get(
        '/things/:id',
        {
          schema: {
            ...operation({
              operationId: 'getThing',
              summary: 'One thing',
              tag: 'things',
              access: 'admin',
              responses: { 200: Type.Object({ id: Type.String() }) },
              errors: { 404: [['NOT_FOUND', 'no such thing']] },
            }),
            params: Type.Object({ id: Type.String({ maxLength: 10 }) }),
          },
        },
        async (request) => {
          if (request.params.id === 'none') throw notFound('no thing none');
          return { id: request.params.id, secret: 'not serialized' };
        },
      );
      scope.post(
        '/things',
        {
          schema: {
            ...operation({
              operationId: 'createThing',
              summary: 'Make a thing',
              tag: 'things',
              access: 'public',
              body: true,
              responses: { 201: Type.Object({ id: Type.String() }) },
            }),
            body: Type.Object({ id: Type.String() }),
          },
        },
        async (request, reply) => reply.code(201).send({ id: request.body.id }),
      );
    },
  });
  const doc = (await app.inject({ url: '/openapi.json' })).json();
  const get = doc.paths['/things/{id}'].get;
  assert.equal(get.operationId, 'getThing');
  assert.equal(get.summary, 'One thing');
  assert.deepEqual(get.tags, ['things']);
  assert.deepEqual(get.security, [{ bearerAuth: [] }]);
  assert.deepEqual(Object.keys(get.responses).sort(), ['200', '400', '401', '403', '404', '500', '503']);
  const notFoundDoc = get.responses['404'].content['application/json'];
  assert.deepEqual(notFoundDoc.schema, { $ref: '#/components/schemas/ErrorResponse' });
  assert.equal(notFoundDoc.example.error.code, 'NOT_FOUND');
  assert.match(get.responses['404'].description, /no such thing/);
  const post = doc.paths['/things'].post;
  assert.deepEqual(post.security, [], 'public: an explicit empty security requirement');
  assert.deepEqual(Object.keys(post.responses).sort(), ['201', '400', '413', '415', '500', '503']);
  assert.deepEqual(Object.keys(doc.components.schemas), ['ErrorResponse']);
  assert.deepEqual(doc.tags, [{ name: 'things', description: 'Things' }]);

  // The documented shapes are what is served: an error answer through the shared schema.
  const missing = await app.inject({ url: '/things/none' });
  assert.equal(missing.statusCode, 404);
  assert.deepEqual(Object.keys(missing.json().error).sort(), ['code', 'message', 'requestId']);
  assert.deepEqual((await app.inject({ url: '/things/a' })).json(), { id: 'a' });
});
