import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { packageRoot } from '@mdp/platform/paths';
import { createPgPool } from '@mdp/platform/postgres';
import type pg from 'pg';
import type {
  Channel,
  IncomingEvent,
  NotificationStore,
  NotificationView,
  PendingNotification,
  Planned,
} from '../domain/notifications.js';

export const MIGRATIONS_DIR = path.join(packageRoot(import.meta.url), 'migrations');

/** PostgreSQL database `notifications` (history and processed-event ids). */
export const connectPostgres = (url: string) =>
  createPgPool(url, { applicationName: 'notification-service' });

export class PostgresNotificationStore implements NotificationStore {
  constructor(private readonly pool: pg.Pool) {}

  async isProcessed(eventId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('SELECT 1 FROM processed_events WHERE event_id = $1', [
      eventId,
    ]);
    return Boolean(rowCount);
  }

  async prepare(event: IncomingEvent, planned: Planned, channels: Channel[]): Promise<PendingNotification[]> {
    for (const channel of channels) {
      await this.pool.query(
        `INSERT INTO notifications (id, event_id, event_type, user_id, type, channel, status, message)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7) ON CONFLICT (event_id, channel) DO NOTHING`,
        [randomUUID(), event.id, event.type, planned.userId, planned.type, channel, planned.message],
      );
    }
    const { rows } = await this.pool.query<PendingNotification>(
      `SELECT id, event_id AS "eventId", user_id AS "userId", type, channel, message
         FROM notifications WHERE event_id = $1 AND status <> 'sent' ORDER BY channel`,
      [event.id],
    );
    return rows;
  }

  async markSent(id: string): Promise<void> {
    await this.pool.query(
      `UPDATE notifications SET status = 'sent', sent_at = now(), attempts = attempts + 1, last_error = NULL
        WHERE id = $1`,
      [id],
    );
  }

  async markFailed(id: string, error: string, final: boolean): Promise<void> {
    await this.pool.query(
      `UPDATE notifications SET status = $3, attempts = attempts + 1, last_error = $2 WHERE id = $1`,
      [id, error.slice(0, 500), final ? 'failed' : 'pending'],
    );
  }

  async markProcessed(event: IncomingEvent): Promise<void> {
    await this.pool.query(
      'INSERT INTO processed_events (event_id, event_type) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [event.id, event.type],
    );
  }

  async listForUser(userId: string, limit: number): Promise<NotificationView[]> {
    const { rows } = await this.pool.query<NotificationView & { createdAt: Date }>(
      `SELECT id, type, channel, status, created_at AS "createdAt" FROM notifications
        WHERE user_id = $1 ORDER BY created_at DESC, id LIMIT $2`,
      [userId, limit],
    );
    return rows.map((r) => ({ ...r, createdAt: new Date(r.createdAt).toISOString() }));
  }
}
