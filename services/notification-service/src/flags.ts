/** Every feature flag notification-service evaluates (and each is in config/flags/flags.json). */
export const FLAGS = {
  'notifications.webhook-enabled': {
    type: 'boolean',
    default: false,
    description: 'Send notifications to the generic webhook (WEBHOOK_URL) as well as the log.',
  },
  'notifications.slack-enabled': {
    type: 'boolean',
    default: false,
    description: 'Send notifications to the Slack incoming webhook (SLACK_WEBHOOK_URL) as well as the log.',
  },
  'notifications.list': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: GET /notifications.',
  },
  'notifications.on-user-registered': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description:
      'Kill switch: the user.registered handler (off: retried, then dead-lettered with FEATURE_DISABLED).',
  },
  'notifications.on-order-created': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: the order.created handler.',
  },
  'notifications.on-order-cancelled': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: the order.cancelled handler.',
  },
  'notifications.on-stock-low': {
    type: 'boolean',
    default: true,
    kind: 'kill-switch',
    description: 'Kill switch: the product.stock_low handler.',
  },
} as const;

/** The kill switch of each event handler (event type → flag), enforced by the platform's consumer. */
export const HANDLER_FLAGS: Record<string, keyof typeof FLAGS> = {
  'user.registered': 'notifications.on-user-registered',
  'order.created': 'notifications.on-order-created',
  'order.cancelled': 'notifications.on-order-cancelled',
  'product.stock_low': 'notifications.on-stock-low',
};
