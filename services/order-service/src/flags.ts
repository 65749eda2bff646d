/**
 * Every feature flag order-service evaluates (and each is in config/flags/flags.json).
 * Both are fault injection for release testing: off (0) unless a flag file turns them on,
 * and every change of their value is logged at warn level.
 */
export const FLAGS = {
  'fault.order-error-rate': {
    type: 'number',
    default: 0,
    description:
      'FAULT INJECTION: share (0..1) of order creations that fail with a 500 FAULT_INJECTED. 0 = off.',
  },
  'fault.order-latency-ms': {
    type: 'number',
    default: 0,
    description: 'FAULT INJECTION: milliseconds (0..10000) added to every order creation. 0 = off.',
  },
  'orders.create': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: POST /orders (placing an order).',
  },
  'orders.list': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: GET /orders.',
  },
  'orders.read': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: GET /orders/:id.',
  },
  'orders.cancel': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: POST /orders/:id/cancel.',
  },
} as const;

export type FlagKey = keyof typeof FLAGS;
