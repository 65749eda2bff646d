/** Every feature flag product-service evaluates (and each is in config/flags/flags.json). */
export const FLAGS = {
  'products.list': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: GET /products.',
  },
  'products.read': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: GET /products/:id.',
  },
  'products.create': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: POST /products (admin).',
  },
  'products.update': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: PATCH /products/:id (admin).',
  },
  'catalog.ranking': {
    type: 'string',
    default: 'control',
    kind: 'experiment',
    description:
      'A/B experiment: the ranking of catalog pages for signed-in users (control | in-stock-first), sticky per user id (fractional targeting); exposures and conversions (orders placed) counted per variant.',
  },
  'stock.reserve': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: POST /internal/reservations (order-service reserves stock).',
  },
  'stock.release': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: releasing a reservation (order cancelled or failed).',
  },
} as const;

export type FlagKey = keyof typeof FLAGS;
