/** Every feature flag user-service evaluates (and each is in config/flags/flags.json). */
export const FLAGS = {
  'auth.register': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: POST /auth/register.',
  },
  'auth.login': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: POST /auth/login.',
  },
  'auth.refresh': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: POST /auth/refresh.',
  },
  'auth.logout': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: POST /auth/logout.',
  },
  'users.read-me': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: GET /users/me.',
  },
  'users.update-me': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: PATCH /users/me.',
  },
  'users.change-password': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: POST /users/me/password.',
  },
} as const;

export type FlagKey = keyof typeof FLAGS;
