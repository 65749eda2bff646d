/**
 * The six rehearsals. The bad versions are the same build as the good one with a flag of its own
 * flag file (config/flags/flags.json, defaultVariant changed for the new process only):
 *
 *  - order-service has release-testing faults: `fault.order-error-rate` (a share of order
 *    placements answer 500) and `fault.order-latency-ms` (each placement waits);
 *  - user-service has none, so its bad versions turn one of its own operations off (a kill
 *    switch: the route answers 503, a 5xx like any failure): `users.read-me` off breaks the smoke
 *    journey's last step (a bad preview), `auth.refresh` off breaks only token refreshes, which
 *    the smoke journey never makes but every signed-in client does (a version that passes its
 *    deployment validation and fails under production traffic).
 */
import type { LoadKind } from './load.js';

export type Outcome = 'promoted' | 'aborted' | 'rolled-back';

export interface Scenario {
  name: string;
  service: 'order-service' | 'user-service';
  strategy: 'canary' | 'blueGreen';
  /** Flag key → variant for the new build's flag file. */
  flags: Record<string, string>;
  load: LoadKind;
  expected: Outcome;
  what: string;
}

const LIST: Scenario[] = [
  {
    name: 'canary-good',
    service: 'order-service',
    strategy: 'canary',
    flags: {},
    load: 'orders',
    expected: 'promoted',
    what: 'a good order-service: 10 % → 50 % → 100 %',
  },
  {
    name: 'canary-errors',
    service: 'order-service',
    strategy: 'canary',
    // `all`, not `half`: placements are a quarter of the load, and with the rehearsal's
    // min-requests of 3 a version failing one request in eight was promoted (README).
    flags: { 'fault.order-error-rate': 'all' },
    load: 'orders',
    expected: 'aborted',
    what: 'order-service whose order placements all fail (fault.order-error-rate=1)',
  },
  {
    name: 'canary-latency',
    service: 'order-service',
    strategy: 'canary',
    flags: { 'fault.order-latency-ms': '500ms' },
    load: 'orders',
    expected: 'aborted',
    what: 'order-service whose order placements take 500 ms more (fault.order-latency-ms=500)',
  },
  {
    name: 'bluegreen-good',
    service: 'user-service',
    strategy: 'blueGreen',
    flags: {},
    load: 'users',
    expected: 'promoted',
    what: 'a good user-service: preview, smoke, promotion, switch, post-promotion analysis',
  },
  {
    name: 'bluegreen-bad-preview',
    service: 'user-service',
    strategy: 'blueGreen',
    flags: { 'users.read-me': 'off' },
    load: 'users',
    expected: 'aborted',
    what: 'user-service whose GET /users/me answers 503 (users.read-me off): the smoke fails',
  },
  {
    name: 'bluegreen-bad-after-switch',
    service: 'user-service',
    strategy: 'blueGreen',
    flags: { 'auth.refresh': 'off' },
    load: 'users',
    expected: 'rolled-back',
    what: 'user-service whose token refresh answers 503 (auth.refresh off): smoke passes, production fails',
  },
];

export const SCENARIOS: Record<string, Scenario> = Object.fromEntries(LIST.map((s) => [s.name, s]));

export const SCENARIO_NAMES = Object.keys(SCENARIOS);
