/** Every flag the gateway evaluates; each exists in config/flags/flags.json (and vice versa). */
export const FLAGS = {
  'gateway.rate-limit-per-minute': {
    type: 'number',
    default: 600,
    description:
      'Requests per minute allowed per signed-in user (per client IP when anonymous) through /api/*; read on every request, so a flag change applies without a restart.',
  },
} as const;

export type FlagKey = keyof typeof FLAGS;
