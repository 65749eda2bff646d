/** In-memory fakes of the notification domain's ports, for unit tests without a datastore or network. */
import { randomUUID } from 'node:crypto';
import type {
  Channel,
  ChannelSender,
  IncomingEvent,
  NotificationStore,
  NotificationView,
  PendingNotification,
  Planned,
} from '../src/domain/notifications.js';

interface Row extends PendingNotification {
  status: 'pending' | 'sent' | 'failed';
  attempts: number;
  error?: string;
}

/** What PostgresNotificationStore keeps: a row per (event, channel), and the processed event ids. */
export class FakeNotificationStore implements NotificationStore {
  readonly rows: Row[] = [];
  readonly processed = new Set<string>();

  async prepare(event: IncomingEvent, planned: Planned, channels: Channel[]) {
    if (this.processed.has(event.id)) return { processed: true, pending: [] };
    for (const channel of channels)
      if (!this.rows.some((r) => r.eventId === event.id && r.channel === channel))
        this.rows.push({
          id: randomUUID(),
          eventId: event.id,
          userId: planned.userId,
          type: planned.type,
          channel,
          message: planned.message,
          status: 'pending',
          attempts: 0,
        });
    const pending = this.rows
      .filter((r) => r.eventId === event.id && r.status !== 'sent')
      .map(({ status: _s, attempts: _a, error: _e, ...n }) => n)
      .sort((a, b) => a.channel.localeCompare(b.channel));
    return { processed: false, pending };
  }

  async complete(
    event: IncomingEvent,
    sent: string[],
    failed: { id: string; error: string }[],
    final: boolean,
  ) {
    for (const r of this.rows) {
      if (sent.includes(r.id))
        Object.assign(r, { status: 'sent', attempts: r.attempts + 1, error: undefined });
      const f = failed.find((x) => x.id === r.id);
      if (f)
        Object.assign(r, { status: final ? 'failed' : 'pending', attempts: r.attempts + 1, error: f.error });
    }
    if (!failed.length) this.processed.add(event.id);
  }

  async listForUser(userId: string, limit: number): Promise<NotificationView[]> {
    return this.rows
      .filter((r) => r.userId === userId)
      .slice(0, limit)
      .map((r) => ({ id: r.id, type: r.type, channel: r.channel, status: r.status, createdAt: '' }));
  }
}

/** A channel that records what it sent, and fails while `failing` is set. */
export class FakeSender implements ChannelSender {
  readonly sent: PendingNotification[] = [];
  failing: string | undefined;
  constructor(readonly channel: Channel) {}
  async send(n: PendingNotification): Promise<void> {
    if (this.failing) throw new Error(this.failing);
    this.sent.push(n);
  }
}
