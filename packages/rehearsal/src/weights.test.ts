import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from './kube.js';
import { endpointsByHash, haproxyWeights, shares } from './weights.js';

const pod = (name: string, hash: string, deleting = false): [string, KubeObject] => [
  name,
  {
    metadata: {
      name,
      labels: { 'rollouts-pod-template-hash': hash },
      ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
    },
  },
];
const slice = (service: string, eps: [string, boolean][]): KubeObject => ({
  metadata: { name: `${service}-x`, labels: { 'kubernetes.io/service-name': service } },
  endpoints: eps.map(([name, ready]) => ({ conditions: { ready }, targetRef: { kind: 'Pod', name } })),
});

test('a Service: ready endpoints per ReplicaSet hash (terminating and unready ones left out)', () => {
  const pods = new Map([
    pod('a1', 'a'),
    pod('a2', 'a'),
    pod('a3', 'a', true),
    pod('b1', 'b'),
    pod('b2', 'b'),
  ]);
  const view = {
    slices: [
      slice('svc', [
        ['a1', true],
        ['a2', true],
        ['a3', true],
        ['b1', true],
        ['b2', false],
      ]),
      slice('other', [['b2', true]]),
    ],
    pods,
  };
  assert.deepEqual(
    [...endpointsByHash(view, 'svc')],
    [
      ['a', 2],
      ['b', 1],
    ],
  );
  const s = shares(view, { name: 'svc', service: 'svc' });
  assert.ok(Math.abs((s.get('b') ?? 0) - 1 / 3) < 1e-9);
  assert.deepEqual([...haproxyWeights(s)].sort(), [
    ['a', 67],
    ['b', 33],
  ]);
});

test('an HTTPRoute, when there is one: backend weights, each split by its Service endpoints', () => {
  const pods = new Map([pod('s1', 'stable'), pod('c1', 'canary')]);
  const view = {
    slices: [
      slice('svc-stable', [['s1', true]]),
      slice('svc-canary', [['c1', true]]),
      slice('svc', [['s1', true]]),
    ],
    pods,
    routes: new Map<string, KubeObject>([
      [
        'route',
        {
          metadata: { name: 'route' },
          spec: {
            rules: [
              {
                backendRefs: [
                  { name: 'svc-stable', weight: 90 },
                  { name: 'svc-canary', weight: 10 },
                ],
              },
            ],
          },
        },
      ],
    ]),
  };
  const s = shares(view, { name: 'svc', service: 'svc', route: 'route' });
  assert.deepEqual([...haproxyWeights(s)].sort(), [
    ['canary', 10],
    ['stable', 90],
  ]);
  // No such route in the cluster: the Service's endpoints decide.
  assert.deepEqual([...shares(view, { name: 'svc', service: 'svc', route: 'missing' })], [['stable', 1]]);
});

test('a VirtualService, when there is one: the named route destination weights, each split by its Service endpoints', () => {
  // Nine stable pods and one canary pod (the controller scales the canary to its weight):
  // the route's 50/50, not the 9:1 replica split, decides.
  const pods = new Map([...Array.from({ length: 9 }, (_, i) => pod(`s${i}`, 'stable')), pod('c1', 'canary')]);
  const vs = (stable: number, canary: number): KubeObject => ({
    metadata: { name: 'order-service' },
    spec: {
      http: [
        { name: 'other', route: [{ destination: { host: 'elsewhere' } }] },
        {
          name: 'primary',
          route: [
            { destination: { host: 'svc-stable' }, weight: stable },
            { destination: { host: 'svc-canary' }, weight: canary },
          ],
        },
      ],
    },
  });
  const view = {
    slices: [
      slice(
        'svc-stable',
        Array.from({ length: 9 }, (_, i) => [`s${i}`, true] as [string, boolean]),
      ),
      slice('svc-canary', [['c1', true]]),
      slice('svc', [
        ['s0', true],
        ['c1', true],
      ]),
    ],
    pods,
    virtualServices: new Map([['order-service', vs(50, 50)]]),
  };
  const frontend = {
    name: 'svc',
    service: 'svc',
    virtualService: { name: 'order-service', route: 'primary' },
  };
  assert.deepEqual([...haproxyWeights(shares(view, frontend))].sort(), [
    ['canary', 50],
    ['stable', 50],
  ]);
  view.virtualServices.set('order-service', vs(100, 0));
  assert.deepEqual([...haproxyWeights(shares(view, frontend))].sort(), [
    ['canary', 0],
    ['stable', 100],
  ]);
  // Without the VirtualService in the cluster: the Service's endpoints.
  view.virtualServices.clear();
  assert.deepEqual([...haproxyWeights(shares(view, frontend))].sort(), [
    ['canary', 50],
    ['stable', 50],
  ]);
});
