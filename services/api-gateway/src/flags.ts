/** Every flag the gateway evaluates; each exists in config/flags/flags.json (and vice versa). */
export const FLAGS = {
  'gateway.rate-limit-per-minute': {
    type: 'number',
    default: 600,
    description:
      'Requests per minute allowed per signed-in user (per client IP when anonymous) through /api/*; read on every request, so a flag change applies without a restart.',
  },
  'gateway.auth': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: /api/auth/* at the edge (off: 503 FEATURE_DISABLED).',
  },
  'gateway.users': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: /api/users/* at the edge.',
  },
  'gateway.products': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: /api/products* at the edge.',
  },
  'gateway.orders': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: /api/orders* at the edge.',
  },
  'gateway.notifications': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: /api/notifications* at the edge.',
  },
} as const;

export type FlagKey = keyof typeof FLAGS;
