import type { Logger } from '@mdp/platform/logger';
import { IncomingWebhook } from '@slack/webhook';
import type { ChannelSender, PendingNotification } from '../domain/notifications.js';

/** Always on: one structured log line per notification. */
export class LogChannel implements ChannelSender {
  readonly channel = 'log' as const;
  constructor(private readonly logger: Logger) {}
  async send(n: PendingNotification): Promise<void> {
    this.logger.info(
      { notificationId: n.id, eventId: n.eventId, userId: n.userId, type: n.type },
      `notification: ${n.message}`,
    );
  }
}

/** A generic JSON webhook (POST), bounded by a timeout; any non-2xx answer is a failure. */
export class WebhookChannel implements ChannelSender {
  readonly channel = 'webhook' as const;
  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
  ) {}
  async send(n: PendingNotification): Promise<void> {
    const res = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': n.id },
      body: JSON.stringify({
        id: n.id,
        eventId: n.eventId,
        userId: n.userId,
        type: n.type,
        message: n.message,
      }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    await res.arrayBuffer().catch(() => {});
    if (!res.ok) throw new Error(`webhook answered ${res.status}`);
  }
}

/**
 * Text for Slack's mrkdwn: `&`, `<` and `>` as entities, the escaping Slack documents
 * ("Formatting text for app surfaces"). Without it, text a user controls (a name) could mention
 * `<!channel>` / `<@U…>` or show a link under other words (`<https://evil|your order>`).
 */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Slack incoming webhook through Slack's official SDK (@slack/webhook). */
export class SlackChannel implements ChannelSender {
  readonly channel = 'slack' as const;
  private readonly hook: IncomingWebhook;
  constructor(url: string, timeoutMs: number) {
    this.hook = new IncomingWebhook(url, { timeout: timeoutMs });
  }
  async send(n: PendingNotification): Promise<void> {
    // Escaped, and no previews of links a user may have put in their name.
    await this.hook.send({
      text: slackEscape(`[${n.type}] ${n.message}`),
      unfurl_links: false,
      unfurl_media: false,
    });
  }
}
