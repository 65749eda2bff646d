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
} as const;
